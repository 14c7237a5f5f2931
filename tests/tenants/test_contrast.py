"""WCAG contrast: the ratios the standard's own examples give, and the colours a partner may save."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenants.contrast import colour_problems, contrast_ratio, luminance

colours = st.integers(0, 0xFFFFFF).map(lambda n: f"#{n:06x}")


class TestContrast:
    def test_known_ratios(self) -> None:
        assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
        assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # just fails AA
        assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # just passes
        assert luminance("#ffffff") == pytest.approx(1)

    @given(colours, colours)
    def test_ratio_is_symmetric_and_between_1_and_21(self, a: str, b: str) -> None:
        assert contrast_ratio(a, b) == pytest.approx(contrast_ratio(b, a))
        assert 1 <= contrast_ratio(a, b) <= 21.0000001

    def test_problems_name_the_field_and_the_ratio(self) -> None:
        assert colour_problems("#1f4e79", "#f0a500") == {}  # the defaults
        assert colour_problems("#1f4e79", "#2b3a55")["accent_color"].startswith("too dark: dark text on it")
        problems = colour_problems("#ffcc00", "blue")
        assert problems["primary_color"].startswith("too light: white text on it has a contrast of 1.")
        assert "WCAG AA asks for 4.5:1" in problems["primary_color"]
        assert problems["accent_color"] == "must be a colour written #rrggbb"
