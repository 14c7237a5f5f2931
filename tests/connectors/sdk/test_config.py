"""Connection config: schema checks, problems with paths, secrets split out, defaults filled."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sdk.config import (
    apply_defaults,
    check_schema,
    config_problems,
    secret_fields,
    split_secrets,
    validate_config,
)
from connectors.sdk.errors import ConfigError

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["base_url", "api_key"],
    "additionalProperties": False,
    "properties": {
        "base_url": {"type": "string", "pattern": "^https://"},
        "api_key": {"type": "string", "writeOnly": True},
        "page_size": {"type": "integer", "minimum": 1, "default": 50},
        "stores": {
            "type": "array",
            "items": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}},
        },
        "mapping": {"type": "object", "properties": {"warehouse": {"type": "object", "required": ["id"]}}},
    },
}


class TestCheckSchema:
    def test_valid(self) -> None:
        check_schema(SCHEMA)

    def test_not_a_json_schema(self) -> None:
        with pytest.raises(ConfigError, match="invalid config schema"):
            check_schema({"type": "object", "properties": {"x": {"type": "texty"}}})

    def test_must_describe_an_object(self) -> None:
        with pytest.raises(ConfigError, match="must describe an object"):
            check_schema({"type": "array"})


class TestProblems:
    def test_valid_config_has_none(self) -> None:
        assert config_problems(SCHEMA, {"base_url": "https://x.example", "api_key": "k"}) == []

    def test_required_fields_are_named_by_path(self) -> None:
        assert config_problems(SCHEMA, {}) == [("api_key", "is required"), ("base_url", "is required")]

    def test_nested_paths(self) -> None:
        problems = config_problems(
            SCHEMA,
            {
                "base_url": "http://x.example",
                "api_key": "k",
                "page_size": 0,
                "stores": [{"code": "A"}, {}],
                "mapping": {"warehouse": {}},
            },
        )
        paths = [path for path, _ in problems]
        assert paths == ["base_url", "mapping.warehouse.id", "page_size", "stores[1].code"]
        assert dict(problems)["stores[1].code"] == "is required"
        assert "does not match '^https://'" in dict(problems)["base_url"]

    def test_unknown_property(self) -> None:
        problems = config_problems(SCHEMA, {"base_url": "https://x.example", "api_key": "k", "colour": "red"})
        assert problems == [("(config)", "Additional properties are not allowed ('colour' was unexpected)")]

    def test_validate_raises_with_every_problem(self) -> None:
        with pytest.raises(ConfigError) as caught:
            validate_config(SCHEMA, {"page_size": "ten"})
        assert [path for path, _ in caught.value.problems] == ["api_key", "base_url", "page_size"]
        assert caught.value.message.startswith("invalid configuration: api_key: is required")


class TestSecretsAndDefaults:
    def test_write_only_fields_are_secrets(self) -> None:
        assert secret_fields(SCHEMA) == {"api_key"}

    def test_split(self) -> None:
        public, hidden = split_secrets(SCHEMA, {"base_url": "https://x.example", "api_key": "k"})
        assert public == {"base_url": "https://x.example"}
        assert hidden == {"api_key": "k"}

    def test_defaults_fill_only_missing_values(self) -> None:
        assert apply_defaults(SCHEMA, {})["page_size"] == 50
        assert apply_defaults(SCHEMA, {"page_size": 7})["page_size"] == 7
        assert "stores" not in apply_defaults(SCHEMA, {})
