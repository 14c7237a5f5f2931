"""Money: a Decimal amount in an ISO 4217 currency, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from connectors.canonical.currencies import MINOR_UNITS, is_currency
from connectors.canonical.validation import invalid

Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3, pattern="^[A-Z]{3}$")]


def check_currency(code: str, name: str = "currency") -> None:
    """Raise ``ValueError`` unless ``code`` is an active ISO 4217 currency."""
    if not is_currency(code):
        raise invalid(name, f"unknown currency {code!r} (not an ISO 4217 code)")


def check_amount(amount: Decimal, name: str = "amount") -> None:
    """Raise ``ValueError`` for NaN and infinities, which no price or total can be."""
    if not amount.is_finite():
        raise invalid(name, "must be a finite number")


def check_non_negative(amount: Decimal, name: str = "amount") -> None:
    """Raise ``ValueError`` unless ``amount`` is a finite number ≥ 0."""
    if not amount.is_finite() or amount < 0:
        raise invalid(name, f"must be a finite number ≥ 0, got {amount}")


def to_minor_units(amount: Decimal, currency: str) -> int:
    """The amount in the currency's minor unit (cents for EUR, yen for JPY); must divide exactly."""
    if not amount.is_finite():
        raise ValueError(f"{amount} is not a finite amount")
    if currency not in MINOR_UNITS:
        raise ValueError(f"unknown currency {currency!r} (not an ISO 4217 code)")
    scaled = amount.scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than {currency} allows")
    return int(scaled)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """The Decimal amount of ``minor`` units of ``currency`` (1999, EUR → 19.99)."""
    if currency not in MINOR_UNITS:
        raise ValueError(f"unknown currency {currency!r} (not an ISO 4217 code)")
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


class Money(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        check_amount(self.amount)
        check_currency(self.currency)
