"""parse, parse_json, record lookup by name, error paths and to_builtins on the canonical model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from connectors.canonical import (
    RECORD_TYPES,
    CanonicalError,
    Item,
    Location,
    Order,
    Price,
    Promotion,
    Reservation,
    StockBalance,
    StockMovement,
    parse,
    parse_json,
    parse_record,
    record_type,
    to_builtins,
)
from connectors.canonical.validation import error_from_msgspec
from tests.connectors.canonical.test_records import EXAMPLES


class TestRecordTypes:
    def test_covers_the_eight_canonical_types(self) -> None:
        assert {
            "item": Item,
            "location": Location,
            "price": Price,
            "promotion": Promotion,
            "stock_balance": StockBalance,
            "stock_movement": StockMovement,
            "reservation": Reservation,
            "order": Order,
        } == RECORD_TYPES

    @pytest.mark.parametrize("name", sorted(RECORD_TYPES))
    def test_record_type_by_name(self, name: str) -> None:
        assert record_type(name) is RECORD_TYPES[name]

    def test_unknown_name_lists_the_known_ones(self) -> None:
        with pytest.raises(KeyError) as caught:
            record_type("sku")
        assert caught.value.args[0] == (
            "unknown canonical type 'sku'; known: item, location, order, price, promotion, reservation, "
            "stock_balance, stock_movement"
        )

    @pytest.mark.parametrize("name", sorted(RECORD_TYPES))
    def test_parse_record_by_name(self, name: str) -> None:
        assert type(parse_record(name, EXAMPLES[name])) is RECORD_TYPES[name]

    def test_parse_record_refuses_with_a_path(self) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse_record("reservation", {**EXAMPLES["reservation"], "quantity": 0})
        assert caught.value.path == "quantity"

    def test_parse_record_unknown_name(self) -> None:
        with pytest.raises(KeyError, match="unknown canonical type 'Item'"):
            parse_record("Item", EXAMPLES["item"])


class TestParse:
    def test_quoted_numbers_are_accepted_by_default(self) -> None:
        value = {**EXAMPLES["reservation"], "quantity": "2"}
        assert parse(Reservation, value).quantity == 2

    def test_strict_refuses_quoted_integers(self) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse(Reservation, {**EXAMPLES["reservation"], "quantity": "2"}, strict=True)
        assert caught.value.path == "quantity"
        assert caught.value.reason == "Expected `int`, got `str`"

    def test_strict_still_takes_quoted_decimals_and_datetimes(self) -> None:
        price = parse(Price, EXAMPLES["price"], strict=True)
        assert price.amount == Decimal("3.49")
        assert price.effective_from == datetime(2024, 5, 1, tzinfo=UTC)

    def test_epoch_seconds_become_aware_datetimes(self) -> None:
        movement = parse(StockMovement, {**EXAMPLES["stock_movement"], "occurred_at": 1714552200})
        assert movement.occurred_at == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)

    @pytest.mark.parametrize(("value", "kind"), [(None, "null"), ([1], "array"), ("x", "str"), (3, "int")])
    def test_non_object_is_refused_at_the_record(self, value: Any, kind: str) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse(Item, value)
        assert caught.value.path == ""
        assert caught.value.reason == f"Expected `object`, got `{kind}`"

    def test_list_of_records_indexes_the_path(self) -> None:
        prices = [EXAMPLES["price"], {**EXAMPLES["price"], "amount": "-1"}]
        with pytest.raises(CanonicalError) as caught:
            parse(list[Price], prices)
        assert caught.value.path == "[1].amount"
        assert caught.value.reason == "must not be negative"


class TestCanonicalError:
    def test_is_a_value_error_with_path_and_reason(self) -> None:
        error = CanonicalError("lines[0].quantity", "Expected `int`, got `str`")
        assert isinstance(error, ValueError)
        assert str(error) == "lines[0].quantity: Expected `int`, got `str`"
        assert error.as_dict() == {"path": "lines[0].quantity", "reason": "Expected `int`, got `str`"}

    def test_empty_path_reads_as_the_record(self) -> None:
        assert (
            str(CanonicalError("", "Expected `object`, got `null`"))
            == "(record): Expected `object`, got `null`"
        )

    def test_reason_never_carries_msgspec_location_suffix(self) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse(Order, {**EXAMPLES["order"], "status": "lost"})
        assert "- at `$" not in caught.value.reason
        assert "- at `$" not in str(caught.value)

    def test_user_text_that_mimics_a_location_does_not_move_the_path(self) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse(Order, {**EXAMPLES["order"], "status": "x - at `$.customer`"})
        assert caught.value.path == "status"


def msgspec_error(value: Any, target: Any) -> msgspec.ValidationError:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(value, target)
    return caught.value


class TestErrorFromMsgspec:
    def test_prefix_joins_with_a_dot(self) -> None:
        bad = {**EXAMPLES["reservation"], "quantity": 0}
        error = error_from_msgspec(msgspec_error(bad, Reservation), prefix="records[3]")
        assert error.path == "records[3].quantity"

    def test_prefix_joins_an_index_without_a_dot(self) -> None:
        bad = [EXAMPLES["reservation"], {**EXAMPLES["reservation"], "quantity": 0}]
        error = error_from_msgspec(msgspec_error(bad, list[Reservation]), prefix="batch")
        assert error.path == "batch[1].quantity"

    def test_prefix_alone_for_a_record_level_error(self) -> None:
        error = error_from_msgspec(msgspec_error(None, Reservation), prefix="batch[0]")
        assert error.path == "batch[0]"

    def test_field_named_by_post_init_is_appended_to_the_location(self) -> None:
        bad = {**EXAMPLES["promotion"], "funding": {"vendor_share": "2"}}
        error = error_from_msgspec(msgspec_error(bad, Promotion))
        assert error.path == "funding.vendor_share"
        assert error.reason == "must be between 0 and 1, got 2"


class TestParseJson:
    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_valid_json_gives_the_record(self, name: str) -> None:
        payload = json.dumps(EXAMPLES[name])
        assert parse_json(RECORD_TYPES[name], payload) == parse(RECORD_TYPES[name], EXAMPLES[name])

    def test_accepts_bytes(self) -> None:
        assert parse_json(Location, json.dumps(EXAMPLES["location"]).encode()).code == "STORE-01"

    def test_json_numbers_become_exact_decimals(self) -> None:
        price = parse_json(Price, '{"sku": "TEA-001", "amount": 0.1, "currency": "EUR"}')
        assert price.amount == Decimal("0.1")
        digits = parse_json(Price, '{"sku": "A", "amount": 0.10000000000000000555, "currency": "EUR"}')
        assert digits.amount == Decimal("0.10000000000000000555")

    @pytest.mark.parametrize(
        "payload",
        [
            '{"code":',
            "not json",
            "",
            b"\xff",
            '{"code": "S1", "name": "Main", "kind": "store"} trailing',
            "{'code': 'S1'}",
        ],
    )
    def test_malformed_json(self, payload: str | bytes) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse_json(Location, payload)
        assert caught.value.path == ""
        assert caught.value.reason.startswith("malformed JSON")

    def test_valid_json_of_the_wrong_shape_is_not_called_malformed(self) -> None:
        with pytest.raises(CanonicalError) as caught:
            parse_json(Location, "[1, 2]")
        assert caught.value.reason == "Expected `object`, got `array`"

    def test_invalid_record_gives_its_path(self) -> None:
        order = {**EXAMPLES["order"], "tenders": [{"method": "card", "amount": -5}]}
        with pytest.raises(CanonicalError) as caught:
            parse_json(Order, json.dumps(order))
        assert caught.value.path == "tenders[0].amount"
        assert caught.value.reason == "must be a finite number ≥ 0, got -5"


class TestToBuiltins:
    def test_decimals_become_strings_with_their_digits(self) -> None:
        built = to_builtins(parse(Order, EXAMPLES["order"]))
        assert built["lines"][0]["unit_price"] == "3.49"
        assert built["lines"][0]["discount"] == "0.50"
        assert built["lines"][1]["discount"] == "0"
        assert built["taxes"][0]["rate"] == "0.19"

    def test_datetimes_become_iso_8601(self) -> None:
        order = to_builtins(parse(Order, EXAMPLES["order"]))
        assert order["placed_at"] == "2024-05-01T10:00:00+02:00"
        price = to_builtins(
            parse(Price, {**EXAMPLES["price"], "effective_to": "2024-06-01T00:00:00.5+00:00"})
        )
        assert price["effective_from"] == "2024-05-01T00:00:00Z"
        assert price["effective_to"] == "2024-06-01T00:00:00.500000Z"

    def test_promotion_rule_carries_its_type_tag(self) -> None:
        built = to_builtins(parse(Promotion, EXAMPLES["promotion"]))
        assert built["rule"] == {"type": "percent_off", "percent": "10"}
        assert built["funding"] == {"vendor": "Leaf", "vendor_share": "0.5"}

    def test_computed_available_is_written_out(self) -> None:
        assert to_builtins(parse(StockBalance, EXAMPLES["stock_balance"]))["available"] == 5

    def test_defaults_and_provenance_are_written_out(self) -> None:
        built = to_builtins(parse(Item, EXAMPLES["item"]))
        assert built["source_version"] is None
        assert built["is_sellable"] is True
        assert built["unit_cost"] == {"amount": "1.25", "currency": "EUR"}

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_output_is_plain_json_and_parses_back_to_the_same_record(self, name: str) -> None:
        record = parse(RECORD_TYPES[name], EXAMPLES[name])
        built = to_builtins(record)
        assert parse_json(RECORD_TYPES[name], json.dumps(built)) == record
        assert parse(RECORD_TYPES[name], built, strict=True) == record
