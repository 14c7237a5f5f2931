"""Stock: balances per SKU × location, movements that change them, and reservations held by orders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from connectors.canonical.record import Code, Record, Sku
from connectors.canonical.validation import invalid

Quantity = Annotated[int, msgspec.Meta(ge=0)]
MovementReason = Literal["sale", "return", "receipt", "adjustment", "transfer"]
ReservationAction = Literal["reserve", "release", "commit"]


class StockBalance(Record, kw_only=True):
    """An absolute count. ``available`` = on_hand − reserved − safety_stock (never below zero)."""

    sku: Sku
    location: Code
    on_hand: int
    reserved: Quantity = 0
    safety_stock: Quantity = 0
    available: int | None = None
    counted_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None

    def __post_init__(self) -> None:
        computed = max(self.on_hand - self.reserved - self.safety_stock, 0)
        if self.available is None:
            self.available = computed
        elif self.available != computed:
            raise invalid(
                "available", f"is {self.available} but on_hand − reserved − safety_stock gives {computed}"
            )


class StockMovement(Record, kw_only=True):
    """A change of on-hand stock; sales and transfers out are negative, receipts and returns positive."""

    sku: Sku
    location: Code
    delta: int
    reason: MovementReason
    to_location: Code | None = None
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None

    def __post_init__(self) -> None:
        if self.delta == 0:
            raise invalid("delta", "must not be zero")
        if self.reason == "transfer" and self.to_location is None:
            raise invalid("to_location", "a transfer needs one")


class Reservation(Record, kw_only=True):
    order_id: Code
    sku: Sku
    location: Code
    quantity: Annotated[int, msgspec.Meta(gt=0)]
    action: ReservationAction = "reserve"
