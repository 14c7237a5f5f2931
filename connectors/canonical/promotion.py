"""Promotions: a discount rule, who and what it applies to, when, who funds it, and its approval state."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from connectors.canonical.money import Money
from connectors.canonical.record import Code, Record, Sku
from connectors.canonical.validation import invalid

ApprovalState = Literal[
    "draft",
    "validated",
    "approved",
    "scheduled",
    "activating",
    "active",
    "expiring",
    "expired",
    "paused",
    "rolled_back",
]


def check_percent(value: Decimal, name: str) -> None:
    if not value.is_finite() or not 0 < value <= 100:
        raise invalid(name, f"must be more than 0 and at most 100, got {value}")


class PercentOff(msgspec.Struct, tag="percent_off", kw_only=True, forbid_unknown_fields=True):
    percent: Decimal

    def __post_init__(self) -> None:
        check_percent(self.percent, "percent")


class AmountOff(msgspec.Struct, tag="amount_off", kw_only=True, forbid_unknown_fields=True):
    amount: Money


class FixedPrice(msgspec.Struct, tag="fixed_price", kw_only=True, forbid_unknown_fields=True):
    price: Money


class BuyXGetY(msgspec.Struct, tag="buy_x_get_y", kw_only=True, forbid_unknown_fields=True):
    buy: Annotated[int, msgspec.Meta(gt=0)]
    get: Annotated[int, msgspec.Meta(gt=0)]
    percent_off_get: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        check_percent(self.percent_off_get, "percent_off_get")


class Bundle(msgspec.Struct, tag="bundle", kw_only=True, forbid_unknown_fields=True):
    skus: Annotated[list[Sku], msgspec.Meta(min_length=2)]
    price: Money


PromotionRule = PercentOff | AmountOff | FixedPrice | BuyXGetY | Bundle


class Eligibility(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Empty lists mean "all"; a promotion with no SKUs and no categories applies to the whole range."""

    skus: list[Sku] = msgspec.field(default_factory=list)
    categories: list[str] = msgspec.field(default_factory=list)
    locations: list[Code] = msgspec.field(default_factory=list)
    channels: list[Code] = msgspec.field(default_factory=list)
    segments: list[str] = msgspec.field(default_factory=list)


class Exclusions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    skus: list[Sku] = msgspec.field(default_factory=list)
    categories: list[str] = msgspec.field(default_factory=list)


class Window(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    starts_at: Annotated[datetime, msgspec.Meta(tz=True)]
    ends_at: Annotated[datetime, msgspec.Meta(tz=True)]
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise invalid("ends_at", "must be after starts_at")


class Funding(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    vendor: str | None = None
    vendor_share: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not self.vendor_share.is_finite() or not 0 <= self.vendor_share <= 1:
            raise invalid("vendor_share", f"must be between 0 and 1, got {self.vendor_share}")


class Promotion(Record, kw_only=True):
    code: Code
    name: str
    rule: PromotionRule
    window: Window
    eligibility: Eligibility = msgspec.field(default_factory=Eligibility)
    exclusions: Exclusions = msgspec.field(default_factory=Exclusions)
    redemption_limit: Annotated[int, msgspec.Meta(gt=0)] | None = None
    per_customer_limit: Annotated[int, msgspec.Meta(gt=0)] | None = None
    is_stackable: bool = False
    funding: Funding = msgspec.field(default_factory=Funding)
    approval_state: ApprovalState = "draft"
