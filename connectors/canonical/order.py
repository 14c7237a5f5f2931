"""Orders taken by a channel: lines, discounts, taxes, tenders, fulfilment and status."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from connectors.canonical.money import Currency, check_currency, check_non_negative
from connectors.canonical.record import Code, Record, Sku

OrderStatus = Literal[
    "pending", "confirmed", "allocated", "shipped", "delivered", "completed", "cancelled", "returned"
]
FulfilmentMethod = Literal["ship", "pickup", "in_store"]


class OrderLine(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sku: Sku
    quantity: Annotated[int, msgspec.Meta(gt=0)]
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    location: Code | None = None


class AppliedDiscount(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount: Decimal
    code: str | None = None
    promotion: Code | None = None


class TaxLine(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    amount: Decimal
    rate: Decimal | None = None


class Tender(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    method: str
    amount: Decimal
    reference: str | None = None


class Address(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str | None = None
    lines: list[str] = msgspec.field(default_factory=list)
    city: str | None = None
    postal_code: str | None = None
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}\Z")] | None = None


class Fulfilment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    method: FulfilmentMethod = "ship"
    location: Code | None = None
    address: Address | None = None
    tracking: str | None = None


class Customer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str | None = None
    email: str | None = None
    segment: str | None = None


class Order(Record, kw_only=True):
    order_id: Code
    channel: Code
    currency: Currency
    lines: Annotated[list[OrderLine], msgspec.Meta(min_length=1)]
    status: OrderStatus = "pending"
    placed_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    discounts: list[AppliedDiscount] = msgspec.field(default_factory=list)
    taxes: list[TaxLine] = msgspec.field(default_factory=list)
    tenders: list[Tender] = msgspec.field(default_factory=list)
    fulfilment: Fulfilment = msgspec.field(default_factory=Fulfilment)
    customer: Customer | None = None

    def __post_init__(self) -> None:
        check_currency(self.currency)
        for i, line in enumerate(self.lines):
            for name in ("unit_price", "discount", "tax"):
                check_non_negative(getattr(line, name), f"lines[{i}].{name}")
        amounts = {
            "discounts": [d.amount for d in self.discounts],
            "taxes": [t.amount for t in self.taxes],
            "tenders": [t.amount for t in self.tenders],
        }
        for kind, values in amounts.items():
            for i, amount in enumerate(values):
                check_non_negative(amount, f"{kind}[{i}].amount")

    @property
    def total(self) -> Decimal:
        """Lines (unit price × quantity − line discount + line tax) minus order-level discounts."""
        lines = sum((ln.unit_price * ln.quantity - ln.discount + ln.tax for ln in self.lines), Decimal(0))
        return lines - sum((d.amount for d in self.discounts), Decimal(0))
