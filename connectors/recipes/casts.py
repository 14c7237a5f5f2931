"""Casts a recipe rule can ask for (``cast: int``): str, int, decimal, float, bool, date, datetime.

Each cast takes whatever JSON or a canonical record holds and returns the target type, or raises
``CastError`` with a reason a person can act on. ``None`` stays ``None``: missing is decided elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.recipes.errors import CastError

_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})
_MAX_DIGITS = 40  # a whole number with more digits than this is a mistake, and int() of 1E+999999999 hangs


def describe(value: Any) -> str:
    """A short description of ``value`` for error reasons: ``'1.5'``, ``a list``, ``an object``."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise CastError(f"cannot cast {describe(value)} to str")


def to_decimal(value: Any) -> Decimal | None:
    """Numbers go through ``str()`` so 19.99 becomes Decimal("19.99"), not the float's binary expansion."""
    if value is None or value.__class__ is Decimal:
        return value
    if value.__class__ is str:  # the common case, quoted amounts; Decimal() itself allows outer blanks
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise CastError(f"cannot cast {describe(value)} to decimal: not a number") from None
        if not result.is_finite():
            raise CastError(f"cannot cast {describe(value)} to decimal: not a finite number")
        return result
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise CastError(f"cannot cast {describe(value)} to decimal")
    try:
        result = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise CastError(f"cannot cast {describe(value)} to decimal: not a number") from None
    if not result.is_finite():
        raise CastError(f"cannot cast {describe(value)} to decimal: not a finite number")
    return result


def to_int(value: Any) -> int | None:
    """Whole numbers only: "10", 10.0 and Decimal("10.00") pass, "1.5" is refused rather than truncated."""
    if value is None or value.__class__ is int:
        return value
    if isinstance(value, bool):
        raise CastError(f"cannot cast {describe(value)} to int")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CastError(f"cannot cast {describe(value)} to int: not a whole number")
        return int(value)
    if isinstance(value, int):
        return int(value)
    if value.__class__ is str and value.isdigit() and len(value) <= _MAX_DIGITS:
        return int(value)  # the common case, quoted counts; anything else goes the careful way
    if isinstance(value, str | Decimal):
        number = to_decimal(value)
        assert number is not None
        if number.adjusted() > _MAX_DIGITS:
            raise CastError(f"cannot cast {describe(value)} to int: too large")
        if number != number.to_integral_value():
            raise CastError(f"cannot cast {describe(value)} to int: not a whole number")
        return int(number)
    raise CastError(f"cannot cast {describe(value)} to int")


def to_float(value: Any) -> float | None:
    if value is None or value.__class__ is float:
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise CastError(f"cannot cast {describe(value)} to float")
    if isinstance(value, str):
        value = to_decimal(value)
    try:
        result = float(value)
    except OverflowError:
        raise CastError(f"cannot cast {describe(value)} to float: too large") from None
    if not math.isfinite(result):
        raise CastError(f"cannot cast {describe(value)} to float: too large")
    return result


def to_bool(value: Any) -> bool | None:
    """Booleans, 0 and 1, and the usual words: true/false, yes/no, y/n, on/off (any case)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise CastError(f"cannot cast {describe(value)} to bool")


def to_datetime(value: Any) -> datetime | None:
    """ISO 8601 text (``Z`` allowed) or epoch seconds (read as UTC); naive text stays naive."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise CastError(f"cannot cast {describe(value)} to datetime: not ISO 8601") from None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise CastError(f"cannot cast {describe(value)} to datetime: out of range") from None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise CastError(f"cannot cast {describe(value)} to datetime")


def to_date(value: Any) -> date | None:
    """A calendar date from ISO text (a datetime's text gives its date), a date or a datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
        except ValueError:
            raise CastError(f"cannot cast {describe(value)} to date: not ISO 8601") from None
    raise CastError(f"cannot cast {describe(value)} to date")


CASTS: dict[str, Callable[[Any], Any]] = {
    "str": to_str,
    "int": to_int,
    "decimal": to_decimal,
    "float": to_float,
    "bool": to_bool,
    "date": to_date,
    "datetime": to_datetime,
}
"""Cast name (as written in a recipe) → function."""

FAST_TYPES: dict[str, type] = {"str": str, "int": int, "decimal": Decimal, "float": float, "bool": bool}
"""Casts whose input often already has the target type; compiled code skips the call for those."""
