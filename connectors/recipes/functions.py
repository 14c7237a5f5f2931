"""What recipe expressions run: the whitelisted functions (``upper``, ``coalesce``…) and the operators.

Operators go through these functions rather than Python's own so that a missing value (``None``) flows
through arithmetic instead of raising, a Decimal meets a float without a TypeError, and ``"x" * 10**9``
cannot allocate a gigabyte.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.recipes.casts import CASTS, describe, to_str
from connectors.recipes.errors import CastError

_NUMBER = (int, float, Decimal)
_MAX_POWER_BITS = 4096


def _number(value: Any) -> Any:
    """Numeric text ("19.99", as CSV files and many APIs quote amounts) read as a Decimal."""
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return value
        return number if number.is_finite() else value
    return value


def _numbers(a: Any, b: Any, verb: str) -> tuple[Any, Any]:
    """Both operands as numbers of one kind; a float meeting a Decimal becomes a Decimal (via str)."""
    a, b = _number(a), _number(b)
    if not isinstance(a, _NUMBER) or not isinstance(b, _NUMBER):
        raise CastError(f"cannot {verb} {describe(a)} and {describe(b)}")
    if a.__class__ is Decimal and isinstance(b, float):
        return a, Decimal(str(b))
    if b.__class__ is Decimal and isinstance(a, float):
        return Decimal(str(a)), b
    return a, b


def op_add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    a, b = _numbers(a, b, "add")
    return a + b


def op_sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numbers(a, b, "subtract")
    return a - b


def op_mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numbers(a, b, "multiply")
    return a * b


def op_div(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numbers(a, b, "divide")
    if not b:
        raise CastError("division by zero")
    return a / b


def op_floordiv(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numbers(a, b, "divide")
    if not b:
        raise CastError("division by zero")
    return a // b


def op_mod(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numbers(a, b, "take the remainder of")
    if not b:
        raise CastError("division by zero")
    return a % b


def op_pow(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    a, b = _numbers(a, b, "raise")
    if abs(b) > 64 or (isinstance(a, int) and a.bit_length() * abs(b) > _MAX_POWER_BITS):
        raise CastError("power too large")
    return a**b


def op_neg(a: Any) -> Any:
    if a is None:
        return None
    if not isinstance(a, _NUMBER):
        raise CastError(f"cannot negate {describe(a)}")
    return -a


def op_pos(a: Any) -> Any:
    if a is None or isinstance(a, _NUMBER):
        return a
    raise CastError(f"cannot apply + to {describe(a)}")


def _ordered(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Operands that can be ordered, or ``None`` when one is missing (the comparison is then false)."""
    if a is None or b is None:
        return None
    if isinstance(a, _NUMBER) or isinstance(b, _NUMBER):
        return _numbers(a, b, "compare")
    if a.__class__ is not b.__class__:
        raise CastError(f"cannot compare {describe(a)} with {describe(b)}")
    return a, b


def op_lt(a: Any, b: Any) -> bool:
    pair = _ordered(a, b)
    return pair is not None and pair[0] < pair[1]


def op_le(a: Any, b: Any) -> bool:
    pair = _ordered(a, b)
    return pair is not None and pair[0] <= pair[1]


def op_gt(a: Any, b: Any) -> bool:
    pair = _ordered(a, b)
    return pair is not None and pair[0] > pair[1]


def op_ge(a: Any, b: Any) -> bool:
    pair = _ordered(a, b)
    return pair is not None and pair[0] >= pair[1]


def op_eq(a: Any, b: Any) -> bool:
    if (
        isinstance(a, _NUMBER)
        and isinstance(b, _NUMBER)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        a, b = _numbers(a, b, "compare")
    return bool(a == b)


def op_ne(a: Any, b: Any) -> bool:
    return not op_eq(a, b)


def op_in(a: Any, b: Any) -> bool:
    if b is None or (isinstance(b, str) and not isinstance(a, str)):
        return False
    try:
        return a in b
    except TypeError:
        return False


def op_not_in(a: Any, b: Any) -> bool:
    return not op_in(a, b)


def item(container: Any, key: Any) -> Any:
    """``container[key]`` that gives ``None`` instead of raising for a missing key or index."""
    if isinstance(container, dict):
        return container.get(key) if isinstance(key, str | int) and not isinstance(key, bool) else None
    if isinstance(container, list) and isinstance(key, int) and not isinstance(key, bool):
        return container[key] if -len(container) <= key < len(container) else None
    return None


def path(value: Any, keys: tuple[str | int, ...]) -> Any:
    """Walk ``keys`` down ``value``; ``None`` as soon as a step is missing."""
    for key in keys:
        value = item(value, key)
        if value is None:
            return None
    return value


def _text(value: Any, function: str) -> str | None:
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, dict | list):
        raise CastError(f"{function}() needs text, got {describe(value)}")
    return to_str(value)


def fn_lower(value: Any) -> str | None:
    if value.__class__ is str:
        return value.lower()
    text = _text(value, "lower")
    return None if text is None else text.lower()


def fn_upper(value: Any) -> str | None:
    if value.__class__ is str:
        return value.upper()
    text = _text(value, "upper")
    return None if text is None else text.upper()


def fn_strip(value: Any) -> str | None:
    text = _text(value, "strip")
    return None if text is None else text.strip()


def fn_replace(value: Any, old: Any, new: Any) -> str | None:
    text = _text(value, "replace")
    old_text, new_text = _text(old, "replace"), _text(new, "replace")
    if text is None or old_text is None or new_text is None:
        return text
    if not old_text:
        raise CastError("replace() needs non-empty text to replace")
    return text.replace(old_text, new_text)


def fn_concat(*values: Any) -> str:
    return "".join(_text(value, "concat") or "" for value in values)


def fn_join(values: Any, separator: Any = "") -> str | None:
    if values is None:
        return None
    if not isinstance(values, list):
        raise CastError(f"join() needs a list, got {describe(values)}")
    return (_text(separator, "join") or "").join(_text(value, "join") or "" for value in values)


def fn_coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def fn_len(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str | list | dict):
        return len(value)
    raise CastError(f"len() needs text, a list or an object, got {describe(value)}")


def fn_abs(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, _NUMBER) and not isinstance(value, bool):
        return abs(value)
    raise CastError(f"abs() needs a number, got {describe(value)}")


def fn_round(value: Any, places: Any = None) -> Any:
    """Half-up rounding, as shop prices round; ``round(x)`` gives an int, ``round(x, 2)`` keeps x's kind."""
    if value is None:
        return None
    if not isinstance(value, _NUMBER) or isinstance(value, bool):
        raise CastError(f"round() needs a number, got {describe(value)}")
    if places is not None and (not isinstance(places, int) or isinstance(places, bool) or abs(places) > 28):
        raise CastError("round() places must be a whole number between -28 and 28")
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    if not exact.is_finite():
        raise CastError(f"round() needs a finite number, got {describe(value)}")
    rounded = exact.quantize(Decimal(1).scaleb(-(places or 0)), rounding=ROUND_HALF_UP)
    if places is None:
        return int(rounded)
    if isinstance(value, Decimal):
        return rounded
    return float(rounded) if isinstance(value, float) else int(rounded)


def _extreme(values: tuple[Any, ...], pick: Callable[[list[Any]], Any], name: str) -> Any:
    items = list(values[0]) if len(values) == 1 and isinstance(values[0], list) else list(values)
    present = [value for value in items if value is not None]
    if not present:
        return None
    try:
        if all(isinstance(value, _NUMBER) for value in present) and any(
            isinstance(value, Decimal) for value in present
        ):
            present = [value if isinstance(value, Decimal) else Decimal(str(value)) for value in present]
        return pick(present)
    except TypeError:
        raise CastError(f"{name}() needs values of one kind") from None


def fn_min(*values: Any) -> Any:
    return _extreme(values, min, "min")


def fn_max(*values: Any) -> Any:
    return _extreme(values, max, "max")


FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    **{name: (cast, 1, 1) for name, cast in CASTS.items()},
    "round": (fn_round, 1, 2),
    "abs": (fn_abs, 1, 1),
    "min": (fn_min, 1, None),
    "max": (fn_max, 1, None),
    "len": (fn_len, 1, 1),
    "lower": (fn_lower, 1, 1),
    "upper": (fn_upper, 1, 1),
    "strip": (fn_strip, 1, 1),
    "replace": (fn_replace, 3, 3),
    "concat": (fn_concat, 0, None),
    "join": (fn_join, 1, 2),
    "coalesce": (fn_coalesce, 1, None),
}
"""Function name in an expression → (implementation, least and most arguments; None = any number)."""

OPERATORS: dict[str, Callable[..., Any]] = {
    "add": op_add,
    "sub": op_sub,
    "mul": op_mul,
    "div": op_div,
    "floordiv": op_floordiv,
    "mod": op_mod,
    "pow": op_pow,
    "neg": op_neg,
    "pos": op_pos,
    "lt": op_lt,
    "le": op_le,
    "gt": op_gt,
    "ge": op_ge,
    "eq": op_eq,
    "ne": op_ne,
    "in": op_in,
    "not_in": op_not_in,
    "item": item,
    "path": path,
}
"""Runtime support the translated expressions call, by the suffix of their global name (``_op_add``)."""
