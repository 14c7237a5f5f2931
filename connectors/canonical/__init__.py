"""The canonical retail model (DESIGN §3): the one vocabulary every sync, recipe and API speaks."""

from __future__ import annotations

from typing import Any

from connectors.canonical.item import Item
from connectors.canonical.location import Location
from connectors.canonical.money import Money, from_minor_units, to_minor_units
from connectors.canonical.order import Order, OrderLine
from connectors.canonical.price import Price
from connectors.canonical.promotion import Promotion
from connectors.canonical.record import Record
from connectors.canonical.stock import Reservation, StockBalance, StockMovement
from connectors.canonical.validation import CanonicalError, parse, parse_json, to_builtins

RECORD_TYPES: dict[str, type[Record]] = {
    "item": Item,
    "location": Location,
    "price": Price,
    "promotion": Promotion,
    "stock_balance": StockBalance,
    "stock_movement": StockMovement,
    "reservation": Reservation,
    "order": Order,
}
"""Canonical record types by the name recipes and APIs use for them."""


def record_type(name: str) -> type[Record]:
    """The canonical type called ``name``; ``KeyError`` names the known ones."""
    try:
        return RECORD_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown canonical type {name!r}; known: {', '.join(sorted(RECORD_TYPES))}") from None


def parse_record(name: str, value: Any) -> Record:
    return parse(record_type(name), value)


__all__ = [
    "RECORD_TYPES",
    "CanonicalError",
    "Item",
    "Location",
    "Money",
    "Order",
    "OrderLine",
    "Price",
    "Promotion",
    "Record",
    "Reservation",
    "StockBalance",
    "StockMovement",
    "from_minor_units",
    "parse",
    "parse_json",
    "parse_record",
    "record_type",
    "to_builtins",
    "to_minor_units",
]
