"""What an outbound recipe reads: a canonical record as plain dicts and lists, Decimals and datetimes kept."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import msgspec

_KEPT = (Decimal, datetime, date, time)


def record_input(record: msgspec.Struct) -> dict[str, Any]:
    """``record`` as the dict a recipe's paths walk: nested structs become dicts, amounts stay Decimal.

    Missing optional fields are present as ``None``, which recipes treat as missing.
    """
    result = msgspec.to_builtins(record, builtin_types=_KEPT)
    if not isinstance(result, dict):
        raise TypeError(f"expected a canonical record, got {type(record).__name__}")
    return result
