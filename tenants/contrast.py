"""Colour contrast after WCAG 2.2: a partner's colours must keep the portal readable before they are
saved. White text sits on the primary colour (header, buttons) and the body's dark text on the accent
(badges, highlights): both need AA's ratio for text, 4.5:1."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_TEXT = 4.5
WHITE = "#ffffff"
INK = "#1d2330"
"""The portal's body text colour (``templates/base.html``)."""


def _channel(value: int) -> float:
    srgb = value / 255
    return srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of ``#rrggbb`` (0 for black, 1 for white)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_ratio(first: str, second: str) -> float:
    """(lighter + 0.05) / (darker + 0.05): 1 for the same colour, 21 for black on white."""
    a, b = sorted((luminance(first), luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def colour_problems(primary: str, accent: str) -> dict[str, str]:
    """Field → reason for colours that are malformed or too faint against white; empty when fine."""
    problems: dict[str, str] = {}
    for field, colour, text, use in (
        ("primary_color", primary, WHITE, "too light: white text on it"),
        ("accent_color", accent, INK, "too dark: dark text on it"),
    ):
        if not HEX_COLOUR.match(colour):
            problems[field] = "must be a colour written #rrggbb"
            continue
        ratio = contrast_ratio(colour, text)
        if ratio < AA_TEXT:
            problems[field] = f"{use} has a contrast of {ratio:.2f}:1, WCAG AA asks for {AA_TEXT:g}:1"
    return problems
