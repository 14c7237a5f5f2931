"""Running a recipe's own test cases, previews, and the default recipes templates ship."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.recipes import default_recipe, default_recipes, preview, run_tests
from connectors.recipes.testing import compare
from tests.connectors.recipes.conftest import recipe

PRICE_FIELDS: dict[str, Any] = {
    "sku": "sku",
    "price": {"from": "amount", "money": {"to": "minor", "currency": "currency"}},
    "currencyCode": {"from": "currency"},
}


class TestRunTests:
    def test_passing_and_failing_cases(self) -> None:
        spec = recipe(
            PRICE_FIELDS,
            filter="record.amount > 0",
            tests=[
                {
                    "name": "plain",
                    "input": {"sku": "A-1", "amount": "19.99", "currency": "EUR"},
                    "output": {"sku": "A-1", "price": 1999, "currencyCode": "EUR"},
                },
                {
                    "name": "wrong",
                    "input": {"sku": "A-1", "amount": "19.99", "currency": "EUR"},
                    "output": {"sku": "A-1", "price": 19.99, "extra": 1},
                },
                {"name": "free", "input": {"sku": "A", "amount": "0", "currency": "EUR"}, "skipped": True},
                {
                    "name": "yen with decimals",
                    "input": {"sku": "A", "amount": "1.5", "currency": "JPY"},
                    "error": {"path": "fields.price", "reason": "more decimals"},
                },
                {"name": "not a price", "input": {"sku": "A"}, "output": {}},
            ],
        )
        results = {result.name: result for result in run_tests(spec)}
        assert results["plain"].passed
        assert results["free"].passed
        assert results["yen with decimals"].passed
        wrong = results["wrong"]
        assert not wrong.passed
        assert wrong.differences == [
            "price: expected 19.99, got 1999",
            "extra: expected 1, but it is missing",
            "currencyCode: not expected, got 'EUR'",
        ]
        assert "FAIL wrong" in str(wrong)
        assert not results["not a price"].passed
        assert results["not a price"].error is not None
        assert results["not a price"].error.startswith("input is not a valid price:")
        assert "amount" in results["not a price"].error

    def test_unexpected_error_is_reported(self) -> None:
        spec = recipe(
            {"q": {"from": "amount", "cast": "int"}},
            tests=[{"name": "n", "input": {"sku": "A", "amount": "1.5", "currency": "EUR"}, "output": {}}],
        )
        [result] = run_tests(spec)
        assert result.error == "error at fields.q: cannot cast 1.5 to int: not a whole number"


class TestInboundCases:
    spec = recipe(
        {"sku": "id", "location": "loc", "on_hand": {"from": "qty", "cast": "int"}},
        direction="inbound",
        input="erp.stock",
        output="stock_balance",
    )

    def test_expected_output_may_spell_out_the_canonical_record(self) -> None:
        given = {"id": "A", "loc": "W1", "qty": "5"}
        spec = dict(self.spec)
        spec["tests"] = [
            {"name": "fields only", "input": given, "output": {"sku": "A", "location": "W1", "on_hand": 5}},
            {
                "name": "with defaults",
                "input": given,
                "output": {"sku": "A", "location": "W1", "on_hand": 5, "available": 5},
            },
            {
                "name": "wrong default",
                "input": given,
                "output": {"sku": "A", "location": "W1", "on_hand": 5, "available": 4},
            },
            {"name": "field left out", "input": given, "output": {"sku": "A", "on_hand": 5}},
        ]
        results = {result.name: result for result in run_tests(spec)}
        assert results["fields only"].passed
        assert results["with defaults"].passed
        assert results["wrong default"].differences == ["available: expected 4, got 5"]
        assert results["field left out"].differences == ["location: not expected, got 'W1'"]


class TestCompare:
    @pytest.mark.parametrize(
        ("expected", "actual"),
        [
            ("19.99", Decimal("19.99")),
            (19.99, Decimal("19.99")),
            (1999, 1999),
            ("2024-01-01", __import__("datetime").date(2024, 1, 1)),
        ],
    )
    def test_equal(self, expected: Any, actual: Any) -> None:
        assert compare(expected, actual) == []

    def test_booleans_are_not_numbers(self) -> None:
        assert compare({"a": 1}, {"a": True}) == ["a: expected 1, got True"]
        assert compare([1, 2], [1]) == ["(output): expected 2 items, got 1: [1]"]


class TestPreview:
    def test_problems_or_results(self) -> None:
        bad = preview(recipe({"x": {"from": "a", "cast": "nope"}}), [{}])
        assert [problem.path for problem in bad.problems] == ["fields.x.cast"]
        good = preview(recipe({"x": "a"}), [{"a": 1}, []])
        assert [result.status for result in good.results] == ["ok", "failed"]


class TestDefaults:
    def write(self, root: Path, key: str, name: str, spec: str) -> None:
        folder = root / key / "recipes"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(spec)

    def test_finds_shipped_recipes(self, tmp_path: Path) -> None:
        self.write(tmp_path, "shop", "prices.outbound.yaml", "recipe: 1\nname: x\n")
        self.write(tmp_path, "shop", "notes.txt.yaml", "recipe: 1\n")
        assert default_recipe("shop", "prices", "outbound", root=tmp_path) == {"recipe": 1, "name": "x"}
        assert default_recipe("shop", "prices", "inbound", root=tmp_path) is None
        assert default_recipe("../shop", "prices", "outbound", root=tmp_path) is None
        found = default_recipes(root=tmp_path)
        assert [(d.template_key, d.domain, d.direction) for d in found] == [("shop", "prices", "outbound")]

    def test_shipped_recipes_are_valid_and_pass_their_tests(self) -> None:
        for shipped in default_recipes():
            failures = [str(result) for result in run_tests(shipped.spec) if not result.passed]
            assert failures == [], f"{shipped.path}: {failures}"
