"""Compiled recipes: each rule kind, the filter, per-record errors, inbound validation and compile-once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.canonical import Item, Money, Price
from connectors.recipes import RecipeError, compile_recipe, record_input
from tests.connectors.recipes.conftest import recipe


def mapped(fields: dict[str, Any], record: Any, **header: Any) -> dict[str, Any] | None:
    return compile_recipe(recipe(fields, **header)).map(record)


def failure(fields: dict[str, Any], record: Any, **header: Any) -> RecipeError:
    with pytest.raises(RecipeError) as raised:
        compile_recipe(recipe(fields, **header)).map(record)
    return raised.value


class TestCopy:
    def test_shorthand_and_nested_paths(self) -> None:
        record = {"sku": "A-1", "attributes": {"colour": "red"}, "lines": [{"sku": "L-1"}]}
        fields = {
            "sku": "sku",
            "colour": "attributes.colour",
            "first": "lines[0].sku",
            "last": "lines[-1].sku",
        }
        assert mapped(fields, record) == {"sku": "A-1", "colour": "red", "first": "L-1", "last": "L-1"}

    def test_missing_path_omits_the_field(self) -> None:
        assert mapped({"sku": "sku", "colour": "attributes.colour", "x": "lines[3].sku"}, {"sku": "A"}) == {
            "sku": "A"
        }

    def test_missing_path_that_is_required_fails(self) -> None:
        error = failure({"colour": {"from": "attributes.colour", "required": True}}, {"attributes": "oops"})
        assert error.path == "fields.colour"
        assert error.reason == "required, but there is no value at attributes.colour"

    def test_dotted_output_names_build_objects(self) -> None:
        fields = {"product.sku": "sku", "product.meta.colour": "colour", "empty.x": "nothing"}
        assert mapped(fields, {"sku": "A", "colour": "red"}) == {
            "product": {"sku": "A", "meta": {"colour": "red"}}
        }

    def test_root_path_and_record_not_an_object(self) -> None:
        assert mapped({"c": "$.currency"}, {"currency": "EUR"}) == {"c": "EUR"}
        error = failure({"sku": "sku"}, ["not", "a", "record"])
        assert (error.path, error.reason) == ("record", "expected the record to be an object, got a list")


class TestDefaultsAndConstants:
    def test_default_fills_missing_values_only(self) -> None:
        fields = {"stock": {"from": "available", "cast": "int", "default": 0}}
        assert mapped(fields, {}) == {"stock": 0}
        assert mapped(fields, {"available": "7"}) == {"stock": 7}

    def test_value_is_a_fresh_constant(self) -> None:
        compiled = compile_recipe(recipe({"source": {"value": "shop"}, "tags": {"value": ["a"]}, "n": 3}))
        first = compiled.map({})
        assert first == {"source": "shop", "tags": ["a"], "n": 3}
        assert first is not None
        first["tags"].append("b")
        assert compiled.map({}) == {"source": "shop", "tags": ["a"], "n": 3}


class TestCasts:
    @pytest.mark.parametrize(
        ("cast", "given", "expected"),
        [
            ("decimal", "19.99", Decimal("19.99")),
            ("decimal", 19.99, Decimal("19.99")),
            ("decimal", 3, Decimal(3)),
            ("int", "10", 10),
            ("int", 10.0, 10),
            ("int", "10.00", 10),
            ("float", "2.5", 2.5),
            ("str", Decimal("1.50"), "1.50"),
            ("str", True, "true"),
            ("bool", "yes", True),
            ("bool", 0, False),
            ("date", "2024-03-01T10:00:00+00:00", date(2024, 3, 1)),
            ("datetime", "2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
            ("datetime", 0, datetime(1970, 1, 1, tzinfo=UTC)),
        ],
    )
    def test_cast(self, cast: str, given: Any, expected: Any) -> None:
        result = mapped({"out": {"from": "x", "cast": cast}}, {"x": given})
        assert result == {"out": expected}
        assert result is not None
        assert type(result["out"]) is type(expected)

    @pytest.mark.parametrize(
        ("cast", "given", "reason"),
        [
            ("int", "1.5", "cannot cast '1.5' to int: not a whole number"),
            ("int", 1.5, "cannot cast 1.5 to int: not a whole number"),
            ("int", True, "cannot cast a boolean to int"),
            ("decimal", "abc", "cannot cast 'abc' to decimal: not a number"),
            ("decimal", "NaN", "cannot cast 'NaN' to decimal: not a finite number"),
            ("bool", "maybe", "cannot cast 'maybe' to bool"),
            ("date", "03/01/2024", "cannot cast '03/01/2024' to date: not ISO 8601"),
            ("str", {"a": 1}, "cannot cast an object to str"),
        ],
    )
    def test_refused(self, cast: str, given: Any, reason: str) -> None:
        error = failure({"out": {"from": "x", "cast": cast}}, {"x": given})
        assert (error.path, error.reason) == ("fields.out", reason)


class TestMoney:
    @pytest.mark.parametrize(
        ("amount", "currency", "minor"),
        [("19.99", "EUR", 1999), (Decimal("1999"), "JPY", 1999), ("1.234", "KWD", 1234), (5, "EUR", 500)],
    )
    def test_to_minor(self, amount: Any, currency: str, minor: int) -> None:
        fields = {"price": {"from": "amount", "money": {"to": "minor", "currency": "currency"}}}
        assert mapped(fields, {"amount": amount, "currency": currency}) == {"price": minor}

    @pytest.mark.parametrize(
        ("minor", "currency", "amount"),
        [(1999, "EUR", Decimal("19.99")), (1999, "JPY", Decimal(1999)), (1234, "KWD", Decimal("1.234"))],
    )
    def test_to_major(self, minor: int, currency: str, amount: Decimal) -> None:
        fields = {"amount": {"from": "price", "money": {"to": "major", "currency_code": currency}}}
        assert mapped(fields, {"price": minor}) == {"amount": amount}

    def test_too_many_decimals_fail_unless_rounded(self) -> None:
        fields: dict[str, Any] = {
            "price": {"from": "amount", "money": {"to": "minor", "currency_code": "JPY"}}
        }
        error = failure(fields, {"amount": "10.5"})
        assert error.path == "fields.price"
        assert "has more decimals than JPY allows" in error.reason
        fields["price"]["money"]["rounding"] = "half_up"
        assert mapped(fields, {"amount": "10.5"}) == {"price": 11}

    def test_missing_and_unknown_currency(self) -> None:
        fields = {"price": {"from": "amount", "money": {"to": "minor", "currency": "currency"}}}
        assert failure(fields, {"amount": "1"}).reason == "no currency at currency"
        assert "unknown currency 'XXX'" in failure(fields, {"amount": "1", "currency": "XXX"}).reason

    def test_a_list_element_uses_the_records_currency(self) -> None:
        fields = {
            "lines": {
                "each": "lines",
                "fields": {"p": {"from": "p", "money": {"to": "minor", "currency": "currency"}}},
            }
        }
        assert mapped(fields, {"currency": "KWD", "lines": [{"p": "1.5"}]}) == {"lines": [{"p": 1500}]}


class TestUnits:
    @pytest.mark.parametrize(
        ("given", "source", "target", "expected"),
        [
            (2, "kg", "g", 2000),
            (Decimal("1.5"), "kg", "g", Decimal("1500.0")),
            (1, "lb", "g", 453.59237),
            (16, "oz", "lb", 1),
            (2.5, "m", "cm", 250.0),
            (1, "in", "mm", 25.4),
            ("1.5", "l", "ml", Decimal("1500.0")),
        ],
    )
    def test_conversion(self, given: Any, source: str, target: str, expected: Any) -> None:
        result = mapped({"out": {"from": "x", "unit": {"from": source, "to": target}}}, {"x": given})
        assert result is not None
        assert result["out"] == pytest.approx(expected)
        assert type(result["out"]) is type(expected)

    def test_not_a_number(self) -> None:
        error = failure({"out": {"from": "x", "unit": {"from": "kg", "to": "g"}}}, {"x": "heavy"})
        assert error.reason == "cannot convert 'heavy': not a number"


class TestLookups:
    lookups = {"channels": {"web": "default-channel", "store": "pos"}, "codes": {1: "one"}}

    def test_hit_miss_and_default(self) -> None:
        fields = {"channel": {"from": "channel", "lookup": "channels", "default": "web"}}
        assert mapped(fields, {"channel": "store"}, lookups=self.lookups) == {"channel": "pos"}
        assert mapped(fields, {}, lookups=self.lookups) == {"channel": "default-channel"}
        assert mapped(fields, {"channel": "kiosk"}, lookups=self.lookups) == {"channel": "default-channel"}

    def test_default_that_is_not_a_key_is_the_output(self) -> None:
        fields = {"channel": {"from": "channel", "lookup": "channels", "default": "other"}}
        assert mapped(fields, {"channel": "kiosk"}, lookups=self.lookups) == {"channel": "other"}

    def test_miss_without_default_fails(self) -> None:
        error = failure(
            {"channel": {"from": "channel", "lookup": "channels"}}, {"channel": "kiosk"}, lookups=self.lookups
        )
        assert (error.path, error.reason) == ("fields.channel", "no entry for 'kiosk' in lookup 'channels'")

    def test_number_keys_match_text_and_numbers(self) -> None:
        fields = {"code": {"from": "code", "lookup": "codes"}}
        assert mapped(fields, {"code": "1"}, lookups=self.lookups) == {"code": "one"}
        assert mapped(fields, {"code": 1}, lookups=self.lookups) == {"code": "one"}


class TestConditionsAndExpressions:
    def test_if_then_else(self) -> None:
        fields = {"status": {"if": "record.available > 0", "then": "in_stock", "else": "out_of_stock"}}
        assert mapped(fields, {"available": 3}) == {"status": "in_stock"}
        assert mapped(fields, {"available": 0}) == {"status": "out_of_stock"}
        assert mapped(fields, {}) == {"status": "out_of_stock"}  # a missing value compares false

    def test_if_with_rule_branches_and_value(self) -> None:
        fields = {"p": {"from": "a", "if": "value > 10", "then": {"from": "b", "cast": "int"}}}
        assert mapped(fields, {"a": 11, "b": "5"}) == {"p": 5}
        assert mapped(fields, {"a": 1, "b": "5"}) == {}

    def test_expressions(self) -> None:
        fields = {
            "title": {"expr": "upper(record.title)"},
            "label": {"expr": "concat(record.brand, ' ', lower(record.title))"},
            "total": {"expr": "record.amount * record.qty"},
            "name": {"expr": "coalesce(record.nickname, record.title)"},
            "size": {"from": "tags", "expr": "len(value)"},
            "flag": {"expr": "'sale' in record.tags and not record.hidden"},
            "r": {"expr": "round(record.amount * 1.1, 2)"},
        }
        record = {"title": "Mug", "brand": "Acme", "amount": Decimal("2.50"), "qty": 3, "tags": ["sale"]}
        assert mapped(fields, record) == {
            "title": "MUG",
            "label": "Acme mug",
            "total": Decimal("7.50"),
            "name": "Mug",
            "size": 1,
            "flag": True,
            "r": Decimal("2.75"),
        }

    def test_missing_values_flow_through_arithmetic(self) -> None:
        assert mapped({"t": {"expr": "record.amount * 2"}}, {}) == {}

    def test_expression_error_names_the_field(self) -> None:
        error = failure({"t": {"expr": "record.a / record.b"}}, {"a": 1, "b": 0})
        assert (error.path, error.reason) == ("fields.t", "division by zero")


class TestEach:
    def test_maps_every_element(self) -> None:
        fields = {
            "lines": {
                "each": "lines",
                "fields": {"sku": "sku", "quantity": {"from": "quantity", "cast": "int"}},
            }
        }
        record = {"lines": [{"sku": "A", "quantity": "2"}, {"sku": "B", "quantity": 1}]}
        assert mapped(fields, record) == {"lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]}

    def test_element_filter_and_nested_each(self) -> None:
        fields = {
            "lines": {
                "each": "lines",
                "filter": "record.quantity > 0",
                "fields": {"sku": "sku", "codes": {"each": "codes", "fields": {"c": "code"}}},
            }
        }
        record = {
            "lines": [{"sku": "A", "quantity": 0}, {"sku": "B", "quantity": 1, "codes": [{"code": "x"}]}]
        }
        assert mapped(fields, record) == {"lines": [{"sku": "B", "codes": [{"c": "x"}]}]}

    def test_error_path_names_the_element(self) -> None:
        fields = {"lines": {"each": "lines", "fields": {"quantity": {"from": "quantity", "cast": "int"}}}}
        error = failure(fields, {"lines": [{"quantity": 1}, {"quantity": "1.5"}]})
        assert error.path == "fields.lines[1].quantity"
        assert failure(fields, {"lines": [3]}).path == "fields.lines[0]"
        assert failure(fields, {"lines": "x"}).reason == "expected a list at lines, got 'x'"


class TestFilterAndMapMany:
    def test_filter_skips_and_map_many_reports_each_record(self) -> None:
        compiled = compile_recipe(
            recipe({"sku": "sku", "qty": {"from": "qty", "cast": "int"}}, filter="record.qty >= 0")
        )
        results = compiled.map_many(
            [{"sku": "A", "qty": 1}, {"sku": "B", "qty": -1}, {"sku": "C", "qty": "x"}, 7]
        )
        assert [result.status for result in results] == ["ok", "skipped", "failed", "failed"]
        assert results[0].output == {"sku": "A", "qty": 1}
        assert results[2].error is not None
        assert results[2].error.path == "filter"
        assert results[3].error is not None
        assert results[3].error.path == "record"
        assert compiled.map({"sku": "B", "qty": -1}) is None


class TestInbound:
    spec = recipe(
        {
            "sku": "id",
            "amount": {"from": "price", "cast": "decimal"},
            "currency": "cur",
            "effective_from": {"from": "valid_from", "cast": "datetime"},
        },
        direction="inbound",
        input="erp.price",
        output="price",
    )

    def test_output_is_validated_as_the_canonical_type(self) -> None:
        compiled = compile_recipe(self.spec)
        record = {"id": "A-1", "price": "9.90", "cur": "EUR", "valid_from": "2024-01-01T00:00:00Z"}
        assert compiled.map(record) == {
            "sku": "A-1",
            "amount": Decimal("9.90"),
            "currency": "EUR",
            "effective_from": datetime(2024, 1, 1, tzinfo=UTC),
        }
        price = compiled.map_record(record)
        assert isinstance(price, Price)
        assert price.amount == Decimal("9.90")

    def test_canonical_problems_come_back_as_output_paths(self) -> None:
        compiled = compile_recipe(self.spec)
        with pytest.raises(RecipeError) as raised:
            compiled.map({"id": "A-1", "price": "-1", "cur": "EUR"})
        assert (raised.value.path, raised.value.reason) == ("output.amount", "must not be negative")
        results = compiled.map_many([{"id": "A", "price": "1", "cur": "EUR"}, {"price": "1", "cur": "EUR"}])
        assert isinstance(results[0].record, Price)
        assert results[0].record.sku == "A"
        assert results[1].error is not None
        assert results[1].error.path == "output.sku"


class TestCompileOnce:
    def test_same_recipe_version_compiles_once(self) -> None:
        spec = recipe({"sku": "sku", "n": {"value": 1}})
        first = compile_recipe(spec)
        assert compile_recipe(dict(spec)) is first
        assert compile_recipe(recipe({"sku": "sku", "n": {"value": 2}})) is not first

    def test_source_is_straight_line_python(self) -> None:
        compiled = compile_recipe(
            recipe({"sku": "sku", "weight": {"from": "attributes.weight_kg", "cast": "float"}})
        )
        assert "def map_record(record):" in compiled.source
        assert "r_attributes_weight_kg = " in compiled.source
        assert "fields.weight" in compiled.source
        assert "for " not in compiled.source  # no loop over the spec's rules


class TestRecordInput:
    def test_keeps_decimals_datetimes_and_nesting(self) -> None:
        price = Price(
            sku="A", amount=Decimal("2.50"), currency="EUR", effective_from=datetime(2024, 1, 1, tzinfo=UTC)
        )
        data = record_input(price)
        assert data["amount"] == Decimal("2.50")
        assert type(data["amount"]) is Decimal
        assert data["effective_from"] == datetime(2024, 1, 1, tzinfo=UTC)
        assert data["channel"] is None

    def test_nested_structs_become_dicts_a_recipe_can_walk(self) -> None:
        item = Item(sku="A", title="Mug", unit_cost=Money(amount=Decimal("1.50"), currency="KWD"))
        fields = {
            "cost": {"from": "unit_cost.amount", "money": {"to": "minor", "currency": "unit_cost.currency"}}
        }
        assert mapped(fields, record_input(item), input="item") == {"cost": 1500}
