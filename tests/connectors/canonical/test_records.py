"""Each canonical record type accepts a valid example and refuses bad input with the exact field path."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from connectors.canonical import (
    RECORD_TYPES,
    CanonicalError,
    Item,
    Location,
    Order,
    Price,
    Promotion,
    Record,
    Reservation,
    StockBalance,
    StockMovement,
    parse,
)
from connectors.canonical.money import Money
from connectors.canonical.promotion import AmountOff, Bundle, BuyXGetY, FixedPrice, PercentOff

EXAMPLES: dict[str, dict[str, Any]] = {
    "item": {
        "sku": "TEA-001",
        "title": "Green tea 100 g",
        "gtin": "4006381333931",
        "brand": "Leaf",
        "categories": ["tea", "drinks"],
        "unit_cost": {"amount": "1.25", "currency": "EUR"},
        "attributes": {"weight_g": 100, "organic": True},
    },
    "location": {
        "code": "STORE-01",
        "name": "Main Street",
        "kind": "store",
        "region": "north",
        "timezone": "Europe/Berlin",
    },
    "price": {
        "sku": "TEA-001",
        "amount": "3.49",
        "currency": "EUR",
        "price_list": "retail",
        "channel": "web",
        "compare_at": "3.99",
        "effective_from": "2024-05-01T00:00:00Z",
        "effective_to": "2024-06-01T00:00:00Z",
    },
    "promotion": {
        "code": "SPRING-10",
        "name": "Spring tea",
        "rule": {"type": "percent_off", "percent": "10"},
        "window": {"starts_at": "2024-05-01T00:00:00+02:00", "ends_at": "2024-05-08T00:00:00+02:00"},
        "eligibility": {"skus": ["TEA-001"], "channels": ["web"], "segments": ["members"]},
        "exclusions": {"skus": ["TEA-002"]},
        "redemption_limit": 1000,
        "funding": {"vendor": "Leaf", "vendor_share": "0.5"},
        "approval_state": "approved",
    },
    "stock_balance": {
        "sku": "TEA-001",
        "location": "STORE-01",
        "on_hand": 10,
        "reserved": 3,
        "safety_stock": 2,
        "counted_at": "2024-05-01T08:00:00Z",
    },
    "stock_movement": {
        "sku": "TEA-001",
        "location": "STORE-01",
        "delta": -2,
        "reason": "sale",
        "occurred_at": "2024-05-01T09:30:00Z",
    },
    "reservation": {
        "order_id": "ORD-1",
        "sku": "TEA-001",
        "location": "STORE-01",
        "quantity": 2,
        "action": "reserve",
    },
    "order": {
        "order_id": "ORD-1",
        "channel": "web",
        "currency": "EUR",
        "status": "confirmed",
        "placed_at": "2024-05-01T10:00:00+02:00",
        "lines": [
            {"sku": "TEA-001", "quantity": 2, "unit_price": "3.49", "discount": "0.50", "tax": "0.20"},
            {"sku": "MUG-001", "quantity": 1, "unit_price": "9.90"},
        ],
        "discounts": [{"amount": "1.00", "code": "WELCOME", "promotion": "SPRING-10"}],
        "taxes": [{"name": "VAT", "amount": "2.10", "rate": "0.19"}],
        "tenders": [{"method": "card", "amount": "15.58", "reference": "tx-9"}],
        "fulfilment": {
            "method": "ship",
            "address": {"name": "A. Buyer", "lines": ["1 Leaf Lane"], "city": "Berlin", "country": "DE"},
        },
        "customer": {"id": "C-1", "email": "a@example.com", "segment": "members"},
    },
}
"""One valid payload per canonical type, as a connector would hand it over (amounts and times quoted)."""

PROVENANCE = {"source": "shopify", "source_id": "gid://1", "source_version": 7, "correlation_id": "req-42"}


def example(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of the example for ``name`` with top-level fields replaced."""
    return {**copy.deepcopy(EXAMPLES[name]), **changes}


def refusal(record_type: type[Record], value: Any) -> CanonicalError:
    with pytest.raises(CanonicalError) as caught:
        parse(record_type, value)
    return caught.value


class TestExamples:
    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_example_parses_to_its_type(self, name: str) -> None:
        record = parse(RECORD_TYPES[name], EXAMPLES[name])
        assert type(record) is RECORD_TYPES[name]

    def test_every_type_has_an_example(self) -> None:
        assert set(EXAMPLES) == set(RECORD_TYPES)


class TestProvenance:
    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_accepted_on_every_type(self, name: str) -> None:
        record = parse(RECORD_TYPES[name], example(name, **PROVENANCE))
        assert (record.source, record.source_id, record.source_version, record.correlation_id) == (
            "shopify",
            "gid://1",
            7,
            "req-42",
        )

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_absent_by_default(self, name: str) -> None:
        record = parse(RECORD_TYPES[name], EXAMPLES[name])
        assert record.source is None
        assert record.source_version is None

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_source_version_zero_is_allowed(self, name: str) -> None:
        assert parse(RECORD_TYPES[name], example(name, source_version=0)).source_version == 0

    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_negative_source_version_is_refused(self, name: str) -> None:
        error = refusal(RECORD_TYPES[name], example(name, source_version=-1))
        assert error.path == "source_version"
        assert error.reason == "Expected `int` >= 0"


class TestUnknownFields:
    @pytest.mark.parametrize("name", sorted(EXAMPLES))
    def test_top_level_unknown_field_is_named(self, name: str) -> None:
        error = refusal(RECORD_TYPES[name], example(name, colour="red"))
        assert error.path == "colour"
        assert error.reason == "is not a field of this record"

    def test_nested_unknown_field_gives_its_full_path(self) -> None:
        value = example("order")
        value["lines"][1]["gift_wrap"] = True
        error = refusal(Order, value)
        assert error.path == "lines[1].gift_wrap"
        assert error.reason == "is not a field of this record"

    def test_unknown_field_in_a_promotion_rule(self) -> None:
        error = refusal(
            Promotion, example("promotion", rule={"type": "percent_off", "percent": "5", "cap": 1})
        )
        assert error.path == "rule.cap"


class TestSku:
    @pytest.mark.parametrize("sku", [" TEA", "TEA ", "\tTEA", "", "x" * 129])
    def test_blank_edges_empty_and_overlong_are_refused(self, sku: str) -> None:
        assert refusal(Item, example("item", sku=sku)).path == "sku"

    @pytest.mark.parametrize("sku", ["T", "TEA 001", "x" * 128])
    def test_inner_blanks_and_limits_are_allowed(self, sku: str) -> None:
        assert parse(Item, example("item", sku=sku)).sku == sku

    def test_leading_blank_in_an_order_line(self) -> None:
        value = example("order")
        value["lines"][0]["sku"] = " TEA-001"
        assert refusal(Order, value).path == "lines[0].sku"

    def test_trailing_newline_is_refused(self) -> None:
        assert refusal(Item, example("item", sku="TEA-001\n")).path == "sku"


class TestItem:
    def test_fields(self) -> None:
        item = parse(Item, EXAMPLES["item"])
        assert item.unit_cost == Money(amount=Decimal("1.25"), currency="EUR")
        assert item.attributes == {"weight_g": 100, "organic": True}
        assert item.is_sellable is True

    @pytest.mark.parametrize("gtin", ["4006381333931", "96385074", "036000291452", "10614141000415"])
    def test_valid_gtins_of_each_length(self, gtin: str) -> None:
        assert parse(Item, example("item", gtin=gtin)).gtin == gtin

    def test_wrong_check_digit(self) -> None:
        error = refusal(Item, example("item", gtin="4006381333932"))
        assert error.path == "gtin"
        assert error.reason == "4006381333932 has a wrong check digit"

    @pytest.mark.parametrize("gtin", ["400638133393", "4006381333", "400638133393112", "40063813339A1"])
    def test_wrong_length_or_letters(self, gtin: str) -> None:
        assert refusal(Item, example("item", gtin=gtin)).path == "gtin"

    def test_trailing_newline_is_refused_at_gtin(self) -> None:
        assert refusal(Item, example("item", gtin="4006381333931\n")).path == "gtin"

    def test_non_ascii_digits_are_refused(self) -> None:
        arabic_indic = "".join(chr(0x0660 + int(d)) for d in "4006381333931")
        assert refusal(Item, example("item", gtin=arabic_indic)).path == "gtin"

    def test_empty_title(self) -> None:
        assert refusal(Item, example("item", title="")).path == "title"

    def test_unit_cost_currency_is_checked(self) -> None:
        error = refusal(Item, example("item", unit_cost={"amount": "1", "currency": "EUX"}))
        assert error.path == "unit_cost.currency"
        assert "unknown currency 'EUX'" in error.reason


class TestLocation:
    @pytest.mark.parametrize("kind", ["store", "warehouse", "channel", "region"])
    def test_kinds(self, kind: str) -> None:
        assert parse(Location, example("location", kind=kind)).kind == kind

    def test_unknown_kind(self) -> None:
        error = refusal(Location, example("location", kind="depot"))
        assert error.path == "kind"
        assert "'depot'" in error.reason

    def test_empty_code(self) -> None:
        assert refusal(Location, example("location", code="")).path == "code"

    def test_missing_name_is_named(self) -> None:
        value = example("location")
        del value["name"]
        error = refusal(Location, value)
        assert error.path == "name"
        assert error.reason == "is required"


class TestPrice:
    def test_fields(self) -> None:
        price = parse(Price, EXAMPLES["price"])
        assert price.amount == Decimal("3.49")
        assert price.effective_from == datetime(2024, 5, 1, tzinfo=UTC)

    def test_price_list_defaults(self) -> None:
        value = example("price")
        del value["price_list"]
        assert parse(Price, value).price_list == "default"

    def test_zero_is_allowed(self) -> None:
        assert parse(Price, example("price", amount="0")).amount == 0

    def test_negative_amount(self) -> None:
        error = refusal(Price, example("price", amount="-0.01"))
        assert error.path == "amount"
        assert error.reason == "must not be negative"

    @pytest.mark.parametrize("field", ["amount", "compare_at"])
    def test_non_finite(self, field: str) -> None:
        error = refusal(Price, example("price", **{field: "Infinity"}))
        assert error.path == field
        assert "finite" in error.reason

    def test_unknown_currency(self) -> None:
        assert refusal(Price, example("price", currency="EUX")).path == "currency"

    @pytest.mark.parametrize("effective_to", ["2024-04-30T00:00:00Z", "2024-05-01T00:00:00Z"])
    def test_window_must_move_forward(self, effective_to: str) -> None:
        error = refusal(Price, example("price", effective_to=effective_to))
        assert error.path == "effective_to"
        assert error.reason == "must be after effective_from"

    def test_window_compares_instants_across_offsets(self) -> None:
        # 01:00+02:00 is 23:00 UTC the day before, so it ends before the 2024-05-01T00:00Z start.
        error = refusal(Price, example("price", effective_to="2024-05-01T01:00:00+02:00"))
        assert error.path == "effective_to"

    @pytest.mark.parametrize("field", ["effective_from", "effective_to"])
    def test_naive_datetime_is_refused(self, field: str) -> None:
        error = refusal(Price, example("price", **{field: "2024-05-15T00:00:00"}))
        assert error.path == field
        assert "timezone" in error.reason

    def test_open_ended_window(self) -> None:
        price = parse(Price, example("price", effective_to=None))
        assert price.effective_to is None

    def test_negative_compare_at(self) -> None:
        assert refusal(Price, example("price", compare_at="-3.99")).path == "compare_at"


class TestStockBalance:
    @pytest.mark.parametrize(
        ("on_hand", "reserved", "safety_stock", "available"),
        [(10, 3, 2, 5), (10, 0, 0, 10), (5, 5, 0, 0), (5, 4, 3, 0), (-4, 0, 0, 0), (3, 10, 10, 0)],
    )
    def test_available_is_computed_and_never_negative(
        self, on_hand: int, reserved: int, safety_stock: int, available: int
    ) -> None:
        value = example("stock_balance", on_hand=on_hand, reserved=reserved, safety_stock=safety_stock)
        assert parse(StockBalance, value).available == available

    def test_consistent_given_available_is_kept(self) -> None:
        assert parse(StockBalance, example("stock_balance", available=5)).available == 5

    def test_inconsistent_given_available_is_refused(self) -> None:
        error = refusal(StockBalance, example("stock_balance", available=7))
        assert error.path == "available"
        assert error.reason == "is 7 but on_hand − reserved − safety_stock gives 5"

    def test_given_available_cannot_be_negative_when_computed_is_zero(self) -> None:
        error = refusal(StockBalance, example("stock_balance", on_hand=1, available=-2))
        assert error.path == "available"

    @pytest.mark.parametrize("field", ["reserved", "safety_stock"])
    def test_negative_quantities(self, field: str) -> None:
        error = refusal(StockBalance, example("stock_balance", **{field: -1}))
        assert error.path == field
        assert error.reason == "Expected `int` >= 0"

    def test_naive_counted_at(self) -> None:
        assert refusal(StockBalance, example("stock_balance", counted_at="2024-05-01T08:00:00")).path == (
            "counted_at"
        )


class TestStockMovement:
    @pytest.mark.parametrize("reason", ["sale", "return", "receipt", "adjustment"])
    def test_reasons(self, reason: str) -> None:
        assert parse(StockMovement, example("stock_movement", reason=reason)).reason == reason

    def test_zero_delta(self) -> None:
        error = refusal(StockMovement, example("stock_movement", delta=0))
        assert error.path == "delta"
        assert error.reason == "must not be zero"

    def test_transfer_needs_a_destination(self) -> None:
        error = refusal(StockMovement, example("stock_movement", reason="transfer"))
        assert error.path == "to_location"
        assert error.reason == "a transfer needs one"

    def test_transfer_with_a_destination(self) -> None:
        movement = parse(StockMovement, example("stock_movement", reason="transfer", to_location="WH-1"))
        assert movement.to_location == "WH-1"

    def test_unknown_reason(self) -> None:
        assert refusal(StockMovement, example("stock_movement", reason="theft")).path == "reason"

    def test_delta_must_be_whole(self) -> None:
        error = refusal(StockMovement, example("stock_movement", delta=1.5))
        assert error.path == "delta"
        assert error.reason == "Expected `int`, got `float`"


class TestReservation:
    @pytest.mark.parametrize("action", ["reserve", "release", "commit"])
    def test_actions(self, action: str) -> None:
        assert parse(Reservation, example("reservation", action=action)).action == action

    def test_action_defaults_to_reserve(self) -> None:
        value = example("reservation")
        del value["action"]
        assert parse(Reservation, value).action == "reserve"

    @pytest.mark.parametrize("quantity", [0, -1])
    def test_quantity_must_be_positive(self, quantity: int) -> None:
        error = refusal(Reservation, example("reservation", quantity=quantity))
        assert error.path == "quantity"
        assert error.reason == "Expected `int` >= 1"

    def test_unknown_action(self) -> None:
        assert refusal(Reservation, example("reservation", action="cancel")).path == "action"


class TestOrder:
    def test_fields_and_total(self) -> None:
        order = parse(Order, EXAMPLES["order"])
        assert order.placed_at == datetime(2024, 5, 1, 10, tzinfo=timezone(timedelta(hours=2)))
        assert order.lines[0].unit_price == Decimal("3.49")
        assert order.lines[1].discount == Decimal(0)
        assert order.fulfilment.address is not None
        assert order.fulfilment.address.country == "DE"
        # 2 × 3.49 − 0.50 + 0.20, plus 9.90, minus the 1.00 order discount
        assert order.total == Decimal("15.58")

    def test_quantity_not_an_int(self) -> None:
        value = example("order")
        value["lines"][0]["quantity"] = "two"
        error = refusal(Order, value)
        assert error.path == "lines[0].quantity"
        assert error.reason == "Expected `int`, got `str`"

    def test_quantity_zero(self) -> None:
        value = example("order")
        value["lines"][1]["quantity"] = 0
        assert refusal(Order, value).path == "lines[1].quantity"

    @pytest.mark.parametrize("field", ["unit_price", "discount", "tax"])
    def test_negative_line_amount(self, field: str) -> None:
        value = example("order")
        value["lines"][1][field] = "-1"
        error = refusal(Order, value)
        assert error.path == f"lines[1].{field}"
        assert error.reason == "must be a finite number ≥ 0, got -1"

    def test_non_finite_line_amount(self) -> None:
        value = example("order")
        value["lines"][0]["unit_price"] = "NaN"
        error = refusal(Order, value)
        assert error.path == "lines[0].unit_price"
        assert error.reason == "must be a finite number ≥ 0, got NaN"

    @pytest.mark.parametrize(
        ("kind", "entry"),
        [
            ("discounts", {"amount": "-0.01"}),
            ("taxes", {"name": "VAT", "amount": "-0.01"}),
            ("tenders", {"method": "card", "amount": "-0.01"}),
        ],
    )
    def test_negative_order_level_amounts_give_their_index(self, kind: str, entry: dict[str, str]) -> None:
        value = example("order")
        value[kind].append(entry)
        error = refusal(Order, value)
        assert error.path == f"{kind}[1].amount"
        assert error.reason == "must be a finite number ≥ 0, got -0.01"

    def test_empty_lines(self) -> None:
        error = refusal(Order, example("order", lines=[]))
        assert error.path == "lines"
        assert error.reason == "Expected `array` of length >= 1"

    def test_unknown_currency(self) -> None:
        assert refusal(Order, example("order", currency="EUX")).path == "currency"

    def test_unknown_status(self) -> None:
        assert refusal(Order, example("order", status="lost")).path == "status"

    def test_unknown_fulfilment_method(self) -> None:
        assert refusal(Order, example("order", fulfilment={"method": "drone"})).path == "fulfilment.method"

    def test_lowercase_country(self) -> None:
        error = refusal(Order, example("order", fulfilment={"address": {"country": "de"}}))
        assert error.path == "fulfilment.address.country"

    def test_country_with_trailing_newline(self) -> None:
        error = refusal(Order, example("order", fulfilment={"address": {"country": "DE\n"}}))
        assert error.path == "fulfilment.address.country"

    def test_naive_placed_at(self) -> None:
        assert refusal(Order, example("order", placed_at="2024-05-01T10:00:00")).path == "placed_at"


class TestPromotionRule:
    @pytest.mark.parametrize(
        ("rule", "rule_type"),
        [
            ({"type": "percent_off", "percent": "100"}, PercentOff),
            ({"type": "amount_off", "amount": {"amount": "2", "currency": "EUR"}}, AmountOff),
            ({"type": "fixed_price", "price": {"amount": "5", "currency": "EUR"}}, FixedPrice),
            ({"type": "buy_x_get_y", "buy": 2, "get": 1}, BuyXGetY),
            (
                {
                    "type": "bundle",
                    "skus": ["TEA-001", "MUG-001"],
                    "price": {"amount": "9", "currency": "EUR"},
                },
                Bundle,
            ),
        ],
    )
    def test_type_tag_selects_the_rule(self, rule: dict[str, Any], rule_type: type) -> None:
        assert type(parse(Promotion, example("promotion", rule=rule)).rule) is rule_type

    def test_buy_x_get_y_gives_the_y_free_by_default(self) -> None:
        promotion = parse(Promotion, example("promotion", rule={"type": "buy_x_get_y", "buy": 2, "get": 1}))
        assert isinstance(promotion.rule, BuyXGetY)
        assert promotion.rule.percent_off_get == Decimal(100)

    @pytest.mark.parametrize("percent", ["0", "150", "-5", "100.01", "NaN"])
    def test_percent_out_of_range(self, percent: str) -> None:
        error = refusal(Promotion, example("promotion", rule={"type": "percent_off", "percent": percent}))
        assert error.path == "rule.percent"
        assert error.reason == f"must be more than 0 and at most 100, got {percent}"

    def test_percent_off_get_out_of_range(self) -> None:
        rule = {"type": "buy_x_get_y", "buy": 2, "get": 1, "percent_off_get": "0"}
        assert refusal(Promotion, example("promotion", rule=rule)).path == "rule.percent_off_get"

    @pytest.mark.parametrize("field", ["buy", "get"])
    def test_buy_and_get_are_positive(self, field: str) -> None:
        rule = {"type": "buy_x_get_y", "buy": 2, "get": 1, field: 0}
        assert refusal(Promotion, example("promotion", rule=rule)).path == f"rule.{field}"

    def test_bundle_of_one_sku(self) -> None:
        rule = {"type": "bundle", "skus": ["TEA-001"], "price": {"amount": "3", "currency": "EUR"}}
        error = refusal(Promotion, example("promotion", rule=rule))
        assert error.path == "rule.skus"
        assert error.reason == "Expected `array` of length >= 2"

    def test_unknown_type(self) -> None:
        error = refusal(Promotion, example("promotion", rule={"type": "mystery"}))
        assert error.path == "rule.type"
        assert "'mystery'" in error.reason

    def test_missing_type(self) -> None:
        error = refusal(Promotion, example("promotion", rule={"percent": "10"}))
        assert error.path == "rule.type"
        assert error.reason == "is required"

    def test_rule_money_currency_is_checked(self) -> None:
        rule = {"type": "amount_off", "amount": {"amount": "2", "currency": "EUX"}}
        assert refusal(Promotion, example("promotion", rule=rule)).path == "rule.amount.currency"


class TestPromotion:
    def test_fields(self) -> None:
        promotion = parse(Promotion, EXAMPLES["promotion"])
        assert promotion.rule == PercentOff(percent=Decimal(10))
        assert promotion.window.starts_at == datetime(2024, 4, 30, 22, tzinfo=UTC)
        assert promotion.eligibility.segments == ["members"]
        assert promotion.funding.vendor_share == Decimal("0.5")

    def test_defaults(self) -> None:
        value = {key: EXAMPLES["promotion"][key] for key in ("code", "name", "rule", "window")}
        promotion = parse(Promotion, value)
        assert promotion.approval_state == "draft"
        assert promotion.eligibility.skus == []
        assert promotion.funding.vendor_share == 0
        assert promotion.is_stackable is False

    @pytest.mark.parametrize("ends_at", ["2024-04-30T00:00:00Z", "2024-05-01T00:00:00+02:00"])
    def test_window_ends_before_or_at_start(self, ends_at: str) -> None:
        window = {"starts_at": "2024-05-01T00:00:00+02:00", "ends_at": ends_at}
        error = refusal(Promotion, example("promotion", window=window))
        assert error.path == "window.ends_at"
        assert error.reason == "must be after starts_at"

    def test_naive_window_start(self) -> None:
        window = {"starts_at": "2024-05-01T00:00:00", "ends_at": "2024-05-08T00:00:00Z"}
        assert refusal(Promotion, example("promotion", window=window)).path == "window.starts_at"

    @pytest.mark.parametrize("share", ["1.5", "-0.1", "NaN"])
    def test_vendor_share_out_of_range(self, share: str) -> None:
        error = refusal(Promotion, example("promotion", funding={"vendor": "Leaf", "vendor_share": share}))
        assert error.path == "funding.vendor_share"
        assert error.reason == f"must be between 0 and 1, got {share}"

    @pytest.mark.parametrize("share", ["0", "1"])
    def test_vendor_share_bounds_are_inclusive(self, share: str) -> None:
        promotion = parse(Promotion, example("promotion", funding={"vendor_share": share}))
        assert promotion.funding.vendor_share == Decimal(share)

    def test_unknown_approval_state(self) -> None:
        error = refusal(Promotion, example("promotion", approval_state="pending"))
        assert error.path == "approval_state"
        assert "'pending'" in error.reason

    def test_eligible_sku_with_leading_blank(self) -> None:
        error = refusal(Promotion, example("promotion", eligibility={"skus": ["TEA-001", " MUG"]}))
        assert error.path == "eligibility.skus[1]"

    @pytest.mark.parametrize("field", ["redemption_limit", "per_customer_limit"])
    def test_limits_are_positive(self, field: str) -> None:
        assert refusal(Promotion, example("promotion", **{field: 0})).path == field
