"""Partner-derived templates: defaults fill in, locked fields keep the partner's value."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sdk.config import config_problems
from connectors.sdk.derived import Derivation, apply_derivation, check_derivation, derived_schema
from connectors.sdk.errors import ConfigError

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "base_url": {"type": "string"},
        "database": {"type": "string"},
        "username": {"type": "string"},
        "password": {"type": "string", "writeOnly": True},
    },
    "required": ["base_url", "database", "username", "password"],
    "additionalProperties": False,
}
ERP = Derivation(
    defaults={"base_url": "https://erp.partner.example", "database": "prod"}, locked=frozenset({"base_url"})
)


class TestCheckDerivation:
    def test_valid(self) -> None:
        assert check_derivation(SCHEMA, ERP) == []

    def test_problems_have_paths(self) -> None:
        bad = Derivation(defaults={"colour": "red"}, locked=frozenset({"password", "username", "nope"}))
        assert check_derivation(SCHEMA, bad) == [
            ("defaults.colour", "not a field of the base template"),
            ("locked.nope", "not a field of the base template"),
            ("locked.password", "secrets are set per connection and cannot be locked"),
            ("locked.username", "a locked field needs a default value"),
        ]


class TestApplyDerivation:
    def test_defaults_fill_in_and_can_be_overridden_when_not_locked(self) -> None:
        values = apply_derivation(ERP, {"database": "test", "username": "u", "password": "p"})
        assert values == {
            "base_url": "https://erp.partner.example",
            "database": "test",
            "username": "u",
            "password": "p",
        }

    def test_locked_field_refused(self) -> None:
        with pytest.raises(ConfigError) as caught:
            apply_derivation(ERP, {"base_url": "https://evil.example", "username": "u"})
        assert caught.value.problems == [("base_url", "is locked by your partner")]

    def test_sending_the_locked_value_itself_is_fine(self) -> None:
        assert (
            apply_derivation(ERP, {"base_url": "https://erp.partner.example"})["base_url"]
            == "https://erp.partner.example"
        )


class TestDerivedSchema:
    def test_locked_fields_are_read_only_constants(self) -> None:
        schema = derived_schema(SCHEMA, ERP)
        assert schema["properties"]["base_url"]["readOnly"] is True
        assert schema["properties"]["database"]["default"] == "prod"
        assert "readOnly" not in SCHEMA["properties"]["base_url"]  # the base is not modified
        problems = config_problems(
            schema, {"base_url": "https://other", "database": "d", "username": "u", "password": "p"}
        )
        assert [path for path, _ in problems] == ["base_url"]
