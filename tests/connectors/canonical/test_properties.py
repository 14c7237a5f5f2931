"""Properties: parse turns any JSON-like value into a canonical record or a CanonicalError, never a crash."""

from __future__ import annotations

import copy
from datetime import UTC, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.canonical import (
    RECORD_TYPES,
    CanonicalError,
    Money,
    StockBalance,
    from_minor_units,
    order,
    parse,
    promotion,
    to_builtins,
    to_minor_units,
)
from connectors.canonical.currencies import MINOR_UNITS
from tests.connectors.canonical.test_records import EXAMPLES

ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]

CANONICAL_TYPES: dict[str, type[Any]] = {**RECORD_TYPES, "money": Money}
EXAMPLES_WITH_MONEY: dict[str, dict[str, Any]] = {**EXAMPLES, "money": {"amount": "1.50", "currency": "EUR"}}

_NESTED: list[type[msgspec.Struct]] = [
    Money,
    order.OrderLine,
    order.AppliedDiscount,
    order.TaxLine,
    order.Tender,
    order.Address,
    order.Fulfilment,
    order.Customer,
    promotion.PercentOff,
    promotion.AmountOff,
    promotion.FixedPrice,
    promotion.BuyXGetY,
    promotion.Bundle,
    promotion.Eligibility,
    promotion.Exclusions,
    promotion.Window,
    promotion.Funding,
]
FIELD_NAMES = sorted({"type"}.union(*(t.__struct_fields__ for t in [*RECORD_TYPES.values(), *_NESTED])))
"""Every field name anywhere in the canonical model, so random dicts reach nested validation."""

plausible = st.sampled_from(
    [
        "EUR",
        "JPY",
        "eur",
        "EUX",
        "DE",
        "0",
        "-1",
        "1.5",
        "100",
        "150",
        "NaN",
        "-Infinity",
        "sNaN",
        "1E+999999999",
        "2024-05-01T00:00:00Z",
        "2024-05-01T00:00:00+02:00",
        "2024-04-30T00:00:00Z",
        "2024-05-01T00:00:00",
        "4006381333931",
        "4006381333932",
        "4006381333931\n",
        "TEA-001",
        " TEA",
        "transfer",
        "sale",
        "store",
        "percent_off",
        "amount_off",
        "fixed_price",
        "buy_x_get_y",
        "bundle",
        "approved",
        "ship",
        "pending",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.decimals().map(str)
    | st.datetimes(timezones=st.none() | st.sampled_from(ZONES)).map(lambda moment: moment.isoformat())
    | plausible
)
json_like: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
"""Anything decoded JSON can be: null, booleans, numbers (with NaN and infinities), text, lists, objects."""

model_shaped: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=25,
)
"""JSON-like values whose objects mostly use canonical field names."""


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = [prefix] if prefix else []
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    for key, child in children:
        found.extend(_paths(child, (*prefix, key)))
    return found


def _mutate(base: dict[str, Any], path: tuple[str | int, ...], replacement: Any, remove: bool) -> Any:
    value = copy.deepcopy(base)
    parent: Any = value
    for key in path[:-1]:
        parent = parent[key]
    if remove and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return value


def mutated_example(name: str) -> st.SearchStrategy[Any]:
    """The valid example with one field, anywhere in it, replaced by a random value or removed."""
    base = EXAMPLES_WITH_MONEY[name]
    return st.builds(_mutate, st.just(base), st.sampled_from(_paths(base)), model_shaped, st.booleans())


def values_for(name: str) -> st.SearchStrategy[Any]:
    own_fields = st.sampled_from(sorted(CANONICAL_TYPES[name].__struct_fields__))
    return (
        json_like
        | st.dictionaries(own_fields, model_shaped, max_size=12)
        | st.builds(
            lambda extra, base: {**base, **extra},
            st.dictionaries(own_fields, model_shaped, max_size=3),
            st.just(EXAMPLES_WITH_MONEY[name]),
        )
        | mutated_example(name)
    )


@pytest.mark.parametrize("name", sorted(CANONICAL_TYPES))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parse_gives_a_record_or_a_canonical_error(name: str, data: st.DataObject) -> None:
    record_type = CANONICAL_TYPES[name]
    value = data.draw(values_for(name), label="value")
    outcome: object
    try:
        outcome = parse(record_type, value)
    except CanonicalError as error:
        outcome = error
    if isinstance(outcome, CanonicalError):
        assert outcome.reason
        assert "- at `$" not in outcome.reason
        return
    record = outcome
    assert isinstance(record, record_type)
    again = parse(record_type, to_builtins(record), strict=True)
    assert msgspec.json.encode(again) == msgspec.json.encode(record)


@settings(max_examples=200, deadline=None)
@given(
    currency=st.sampled_from(sorted(MINOR_UNITS)), minor=st.integers(min_value=-(10**15), max_value=10**15)
)
def test_minor_units_round_trip(currency: str, minor: int) -> None:
    amount = from_minor_units(minor, currency)
    assert to_minor_units(amount, currency) == minor
    assert amount * Decimal(10) ** MINOR_UNITS[currency] == minor


@settings(max_examples=200, deadline=None)
@given(
    on_hand=st.integers(min_value=-(10**6), max_value=10**6),
    reserved=st.integers(min_value=0, max_value=10**6),
    safety_stock=st.integers(min_value=0, max_value=10**6),
)
def test_available_is_on_hand_less_reserved_and_safety_stock(
    on_hand: int, reserved: int, safety_stock: int
) -> None:
    value = {
        "sku": "A",
        "location": "S",
        "on_hand": on_hand,
        "reserved": reserved,
        "safety_stock": safety_stock,
    }
    balance = parse(StockBalance, value)
    assert balance.available == max(on_hand - reserved - safety_stock, 0)
    assert parse(StockBalance, {**value, "available": balance.available}) == balance
