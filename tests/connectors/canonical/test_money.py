"""Money is an exact Decimal in an active ISO 4217 currency, and converts to and from minor units."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.canonical import CanonicalError, Money, from_minor_units, parse, to_minor_units
from connectors.canonical.currencies import MINOR_UNITS, is_currency


def refusal(value: Any, *, strict: bool = False) -> CanonicalError:
    with pytest.raises(CanonicalError) as caught:
        parse(Money, value, strict=strict)
    return caught.value


class TestAmount:
    def test_float_becomes_the_decimal_it_was_written_as(self) -> None:
        money = parse(Money, {"amount": 0.1, "currency": "EUR"}, strict=False)
        assert type(money.amount) is Decimal
        assert money.amount == Decimal("0.1")
        assert money.amount != Decimal.from_float(0.1)  # not the binary expansion of the float

    def test_quoted_amount_keeps_its_trailing_zeros(self) -> None:
        money = parse(Money, {"amount": "19.90", "currency": "EUR"})
        assert money.amount.as_tuple() == Decimal("19.90").as_tuple()

    def test_integer_amount(self) -> None:
        assert parse(Money, {"amount": 5, "currency": "JPY"}).amount == Decimal(5)

    def test_boolean_is_not_an_amount(self) -> None:
        error = refusal({"amount": True, "currency": "EUR"})
        assert error.path == "amount"
        assert "decimal" in error.reason

    @pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN", float("nan"), float("inf")])
    def test_non_finite_amount_is_refused(self, amount: object) -> None:
        error = refusal({"amount": amount, "currency": "EUR"})
        assert error.path == "amount"
        assert error.reason == "must be a finite number"

    def test_missing_amount_names_the_field(self) -> None:
        error = refusal({"currency": "EUR"})
        assert (error.path, error.reason) == ("amount", "is required")


class TestCurrency:
    def test_unknown_code_is_refused(self) -> None:
        error = refusal({"amount": "1", "currency": "EUX"})
        assert error.path == "currency"
        assert error.reason == "unknown currency 'EUX' (not an ISO 4217 code)"

    def test_lowercase_code_is_refused(self) -> None:
        error = refusal({"amount": "1", "currency": "eur"})
        assert error.path == "currency"
        assert "^[A-Z]{3}$" in error.reason

    @pytest.mark.parametrize("code", ["EU", "EURO", "EUR\n"])
    def test_code_of_wrong_length_is_refused(self, code: str) -> None:
        assert refusal({"amount": "1", "currency": code}).path == "currency"

    def test_unknown_field_is_named(self) -> None:
        error = refusal({"amount": "1", "currency": "EUR", "rate": "1.1"})
        assert (error.path, error.reason) == ("rate", "is not a field of this record")

    @pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XDR"])
    def test_test_codes_and_metals_are_not_currencies(self, code: str) -> None:
        assert not is_currency(code)

    @pytest.mark.parametrize(("code", "digits"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)])
    def test_minor_unit_table(self, code: str, digits: int) -> None:
        assert MINOR_UNITS[code] == digits


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("currency", "amount", "minor"),
        [
            ("EUR", "19.99", 1999),
            ("EUR", "19.90", 1990),
            ("EUR", "20", 2000),
            ("EUR", "-0.05", -5),
            ("JPY", "1999", 1999),
            ("KWD", "1.999", 1999),
            ("CLF", "1.9999", 19999),
        ],
    )
    def test_to_minor_units(self, currency: str, amount: str, minor: int) -> None:
        result = to_minor_units(Decimal(amount), currency)
        assert type(result) is int
        assert result == minor

    @pytest.mark.parametrize(
        ("currency", "minor", "amount"),
        [("EUR", 1999, "19.99"), ("JPY", 1999, "1999"), ("KWD", 1999, "1.999"), ("CLF", 19999, "1.9999")],
    )
    def test_from_minor_units_has_the_currency_exponent(self, currency: str, minor: int, amount: str) -> None:
        result = from_minor_units(minor, currency)
        assert result == Decimal(amount)
        assert result.as_tuple().exponent == -MINOR_UNITS[currency]

    @pytest.mark.parametrize(
        ("currency", "amount"), [("EUR", "19.999"), ("JPY", "1.5"), ("KWD", "1.9999"), ("CLF", "1.00001")]
    )
    def test_extra_decimals_are_refused_with_a_reason(self, currency: str, amount: str) -> None:
        with pytest.raises(ValueError, match=f"{amount} {currency} has more decimals than {currency} allows"):
            to_minor_units(Decimal(amount), currency)

    @pytest.mark.parametrize("amount", ["NaN", "Infinity", "sNaN"])
    def test_non_finite_amount_is_a_value_error(self, amount: str) -> None:
        with pytest.raises(ValueError, match="finite"):
            to_minor_units(Decimal(amount), "EUR")
