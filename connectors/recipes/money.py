"""Money conversion for recipe rules: Decimal amounts to integer minor units (``to: minor``) and back."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from connectors.canonical.currencies import MINOR_UNITS
from connectors.canonical.money import from_minor_units, to_minor_units
from connectors.recipes.casts import describe, to_decimal, to_int
from connectors.recipes.errors import CastError

ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}
_MAX_DIGITS = 30  # no price has more; int() of Decimal("1E+999999999") would not finish


def _currency(currency: Any, where: str) -> str:
    if currency is None:
        raise CastError(f"no currency at {where}")
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        raise CastError(f"unknown currency {describe(currency)} (not an ISO 4217 code)")
    return currency


def to_minor(value: Any, currency: Any, where: str, rounding: str | None = None) -> int:
    """19.99 EUR → 1999, 1999 JPY → 1999, 1.234 KWD → 1234; extra decimals are refused unless rounded."""
    code = _currency(currency, where)
    amount = value if value.__class__ is Decimal else to_decimal(value)
    assert amount is not None  # callers never pass None
    if amount.adjusted() > _MAX_DIGITS:  # to_decimal already refused NaN and infinities
        raise CastError(f"{describe(value)} is not a usable amount")
    if rounding is not None:
        amount = amount.quantize(Decimal(1).scaleb(-MINOR_UNITS[code]), rounding=ROUNDING_MODES[rounding])
    try:
        return to_minor_units(amount, code)
    except ValueError as error:
        raise CastError(f"{error}; add rounding: half_up to round") from None


def to_major(value: Any, currency: Any, where: str) -> Decimal:
    """1999 EUR → Decimal("19.99"); the minor amount must be a whole number."""
    code = _currency(currency, where)
    minor = to_int(value)
    assert minor is not None
    if abs(minor) >= 10**_MAX_DIGITS:
        raise CastError(f"{describe(value)} is not a usable amount")
    return from_minor_units(minor, code)
