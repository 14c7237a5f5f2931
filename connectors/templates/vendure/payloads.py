"""Checks on the payloads ``write`` accepts: each problem is a reason that fails that record alone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

CURRENCY = re.compile(r"^[A-Z]{3}$")


class PayloadError(ValueError):
    """A payload ``write`` cannot send; the message names the field and the reason."""


def check_fields(payload: Mapping[str, Any], allowed: frozenset[str], required: frozenset[str]) -> None:
    missing = sorted(name for name in required if payload.get(name) in (None, ""))
    if missing:
        raise PayloadError(f"missing {', '.join(missing)}")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise PayloadError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def text(payload: Mapping[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{name} must be a non-empty string, got {value!r}")
    return value


def whole(payload: Mapping[str, Any], name: str, *, minimum: int = 0) -> int:
    """An integer (minor units, counts) no smaller than ``minimum``; floats and booleans are refused."""
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise PayloadError(f"{name} must be at least {minimum}, got {value}")
    return value


def currency(payload: Mapping[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str) or not CURRENCY.match(value):
        raise PayloadError(f"{name} must be an ISO 4217 code such as EUR, got {value!r}")
    return value


def percent(payload: Mapping[str, Any], name: str) -> Decimal:
    value = payload[name]
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else Decimal("nan")
    except InvalidOperation:
        number = Decimal("nan")
    if not number.is_finite() or not 0 < number <= 100:
        raise PayloadError(f"{name} must be more than 0 and at most 100, got {value!r}")
    return number


def instant(payload: Mapping[str, Any], name: str) -> str:
    """An ISO 8601 date-time with a time zone, passed on as given."""
    value = payload[name]
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{name} needs a time zone, got {value!r}")
    return parsed.isoformat()
