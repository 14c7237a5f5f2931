"""Prices: an amount for a SKU on a price list, scoped to a channel or region, effective over a window."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from connectors.canonical.money import Currency, check_amount, check_currency, check_non_negative
from connectors.canonical.record import Code, Record, Sku
from connectors.canonical.validation import invalid

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class Price(Record, kw_only=True):
    sku: Sku
    amount: Decimal
    currency: Currency
    price_list: Code = "default"
    channel: Code | None = None
    region: Code | None = None
    compare_at: Decimal | None = None
    effective_from: AwareDatetime | None = None
    effective_to: AwareDatetime | None = None

    def __post_init__(self) -> None:
        check_amount(self.amount)
        check_currency(self.currency)
        if self.amount < 0:
            raise invalid("amount", "must not be negative")
        if self.compare_at is not None:
            check_non_negative(self.compare_at, "compare_at")
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise invalid("effective_to", "must be after effective_from")
