"""Items: what a retailer sells, identified by SKU and optionally by GTIN."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from connectors.canonical.money import Money
from connectors.canonical.record import Record, Sku
from connectors.canonical.validation import invalid

Gtin = Annotated[str, msgspec.Meta(pattern=r"^([0-9]{8}|[0-9]{12}|[0-9]{13}|[0-9]{14})\Z")]


def is_valid_gtin(gtin: str) -> bool:
    """GS1 check digit: weights 3 and 1 from the right, excluding the check digit itself."""
    digits = [int(d) for d in gtin]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


class Item(Record, kw_only=True):
    sku: Sku
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    gtin: Gtin | None = None
    description: str | None = None
    brand: str | None = None
    categories: list[str] = msgspec.field(default_factory=list)
    unit_cost: Money | None = None
    is_sellable: bool = True
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gtin is not None and not is_valid_gtin(self.gtin):
            raise invalid("gtin", f"{self.gtin} has a wrong check digit")
