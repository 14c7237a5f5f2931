"""Unit conversion for recipe rules (``unit: {from: kg, to: g}``): mass, length and volume."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.recipes.casts import describe
from connectors.recipes.errors import CastError

UNITS: dict[str, tuple[str, Decimal]] = {
    "g": ("mass", Decimal(1)),
    "kg": ("mass", Decimal(1000)),
    "lb": ("mass", Decimal("453.59237")),
    "oz": ("mass", Decimal("28.349523125")),
    "mm": ("length", Decimal(1)),
    "cm": ("length", Decimal(10)),
    "m": ("length", Decimal(1000)),
    "in": ("length", Decimal("25.4")),
    "ml": ("volume", Decimal(1)),
    "l": ("volume", Decimal(1000)),
}
"""Unit → (dimension, size in the dimension's base unit: grams, millimetres, millilitres)."""


def unit_problem(source: str, target: str) -> str | None:
    """Why ``source`` → ``target`` cannot be converted, or ``None`` when it can."""
    known = ", ".join(UNITS)
    if source not in UNITS:
        return f"unknown unit {source!r}; known: {known}"
    if target not in UNITS:
        return f"unknown unit {target!r}; known: {known}"
    if UNITS[source][0] != UNITS[target][0]:
        return f"cannot convert {UNITS[source][0]} ({source}) to {UNITS[target][0]} ({target})"
    return None


def factor(source: str, target: str) -> Decimal:
    """How many ``target`` units one ``source`` unit is (kg → g: 1000)."""
    return UNITS[source][1] / UNITS[target][1]


def convert(value: Any, by: Decimal, by_float: float) -> Any:
    """``value`` × ``by``, keeping its kind: Decimal stays Decimal, float stays float, and an int stays an
    int when the result is whole (2 kg → 2000 g) or becomes a float (1 lb → 453.59237 g). Text is read as
    a decimal number."""
    kind = value.__class__
    if kind is Decimal:
        return value * by
    if kind is float:
        return value * by_float
    if kind is int:
        exact = by * value
        return int(exact) if exact == exact.to_integral_value() else float(exact)
    if kind is str:
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            number = Decimal("NaN")
        if number.is_finite():
            return number * by
    raise CastError(f"cannot convert {describe(value)}: not a number")
