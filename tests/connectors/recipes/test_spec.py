"""Validation: every problem in a recipe is reported at once, each with a path into the recipe."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.recipes import InvalidRecipeError, parse_recipe, validate_recipe
from connectors.recipes.spec import EachRule, IfRule, PipelineRule, ValueRule, parse_path
from tests.connectors.recipes.conftest import recipe


def problems(spec: Any) -> dict[str, str]:
    return {problem.path: problem.reason for problem in validate_recipe(spec)}


class TestValidRecipe:
    def test_every_rule_kind_parses_to_its_structure(self) -> None:
        parsed = parse_recipe(
            recipe(
                {
                    "sku": "sku",
                    "source": {"value": "shop"},
                    "status": {"if": "record.amount > 0", "then": "priced", "else": "free"},
                    "lines": {"each": "lines", "fields": {"sku": "sku"}},
                    "price": {"from": "amount", "money": {"to": "minor", "currency": "currency"}},
                }
            )
        )
        assert isinstance(parsed.fields["sku"], PipelineRule)
        assert isinstance(parsed.fields["source"], ValueRule)
        assert isinstance(parsed.fields["status"], IfRule)
        assert isinstance(parsed.fields["lines"], EachRule)
        assert parsed.canonical_type == "price"
        assert len(parsed.fingerprint) == 64

    def test_paths(self) -> None:
        assert parse_path("lines[0].sku").keys == ("lines", 0, "sku")
        assert parse_path("attributes.weight_kg").keys == ("attributes", "weight_kg")
        root = parse_path("$.currency")
        assert root.from_root
        assert root.keys == ("currency",)


class TestProblems:
    def test_all_problems_are_collected_with_paths(self) -> None:
        spec = recipe(
            {
                "price": {"from": "amount", "money": {"to": "cents", "currency": "currency"}},
                "weight": {"from": "w", "unit": {"from": "kg", "to": "ml"}},
                "length": {"from": "l", "unit": {"from": "km", "to": "m"}},
                "channel": {"from": "channel", "lookup": "nowhere"},
                "qty": {"from": "q", "cast": "integer"},
                "title": {"expr": "record.title.upper()"},
                "odd": {"from": "x", "colour": "red"},
                "bad": {"from": "a..b"},
                "empty": {},
            },
            input="widget",
            surprise=True,
        )
        found = problems(spec)
        assert found["fields.price.money.to"] == "must be 'minor' or 'major'"
        assert "cannot convert mass (kg) to volume (ml)" in found["fields.weight.unit"]
        assert "unknown unit 'km'" in found["fields.length.unit"]
        assert "no lookup table named 'nowhere'" in found["fields.channel.lookup"]
        assert "unknown cast 'integer'" in found["fields.qty.cast"]
        assert "method calls are not allowed" in found["fields.title.expr"]
        assert found["fields.odd.colour"].startswith("unknown key")
        assert "not a valid path" in found["fields.bad.from"]
        assert "needs one of from, value, expr, if or each" in found["fields.empty"]
        assert "unknown canonical type 'widget'" in found["input"]
        assert found["surprise"] == "unknown key"

    def test_header(self) -> None:
        found = problems({"recipe": 2, "direction": "sideways", "fields": {}})
        assert set(found) >= {"recipe", "name", "direction", "input", "output", "fields"}

    def test_inbound_output_must_be_canonical(self) -> None:
        found = problems(recipe({"sku": "id"}, direction="inbound", input="erp.item", output="thing"))
        assert "unknown canonical type 'thing'" in found["output"]
        assert "input" not in found

    def test_money_needs_one_currency_and_a_known_code(self) -> None:
        found = problems(
            recipe(
                {
                    "a": {"from": "x", "money": {"to": "minor"}},
                    "b": {"from": "x", "money": {"to": "major", "currency_code": "EURO"}},
                    "c": {
                        "from": "x",
                        "money": {"to": "major", "currency_code": "EUR", "rounding": "half_up"},
                    },
                }
            )
        )
        assert "exactly one of currency" in found["fields.a.money"]
        assert "'EURO' is not an ISO 4217" in found["fields.b.money.currency_code"]
        assert "with to: minor" in found["fields.c.money.rounding"]

    def test_value_is_only_defined_with_from(self) -> None:
        found = problems(recipe({"a": {"expr": "value + 1"}}, filter="value > 1"))
        assert found["fields.a.expr"] == "value is only defined in a rule with from"
        assert found["filter"] == "value is only defined in a rule with from"

    def test_nested_each_and_if_paths(self) -> None:
        found = problems(
            recipe(
                {
                    "lines": {"each": "lines", "fields": {"q": {"from": "q", "cast": "number"}}},
                    "s": {"if": "record.a >", "then": {"from": "b", "lookup": "x"}},
                }
            )
        )
        assert "unknown cast 'number'" in found["fields.lines.fields.q.cast"]
        assert found["fields.s.if"].startswith("not a valid expression")
        assert "no lookup table named 'x'" in found["fields.s.then.lookup"]

    def test_conflicting_output_names(self) -> None:
        found = problems(recipe({"a": "x", "a.b": "y"}))
        assert found["fields.a.b"] == "conflicts with the field 'a'"

    def test_tests_section(self) -> None:
        found = problems(
            recipe({"a": "x"}, tests=[{"input": {}}, {"name": "n", "input": {}, "output": {}, "x": 1}])
        )
        assert found["tests[0].name"] == "every test needs a name"
        assert "exactly one of output" in found["tests[0]"]
        assert found["tests[1].x"] == "unknown key"

    def test_parse_raises_with_every_problem(self) -> None:
        with pytest.raises(InvalidRecipeError) as raised:
            parse_recipe(recipe({"a": {"from": "x", "cast": "nope"}, "b": {"value": 1, "from": "y"}}))
        assert [problem.path for problem in raised.value.problems] == ["fields.a.cast", "fields.b"]

    def test_not_a_mapping(self) -> None:
        assert problems([1, 2]) == {"": "a recipe is a mapping (recipe: 1, name, direction, fields...)"}
