"""Running a recipe's own ``tests:`` cases, and previewing a recipe on sample records (the portal's view)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.canonical import CanonicalError, parse_record
from connectors.recipes.compiler import CompiledRecipe, MappedRecord, compile_recipe
from connectors.recipes.errors import InvalidRecipeError, RecipeError, RecipeProblem
from connectors.recipes.inputs import record_input
from connectors.recipes.spec import Recipe, RecipeCase


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One test case: passed, or failed with readable differences or the error the record raised."""

    name: str
    passed: bool
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    output: Any = None

    def __str__(self) -> str:
        if self.passed:
            return f"PASS {self.name}"
        details = [self.error] if self.error else self.differences
        return f"FAIL {self.name}\n" + "\n".join(f"  {line}" for line in details)


def run_tests(spec: Mapping[str, Any] | Recipe | CompiledRecipe) -> list[CaseResult]:
    """Run every case in the recipe's ``tests:``. Outbound inputs are first parsed as the canonical type,
    so a case sees exactly what a real record gives the recipe (Decimals, defaults filled in)."""
    compiled = spec if isinstance(spec, CompiledRecipe) else compile_recipe(spec)
    return [run_case(compiled, case) for case in compiled.recipe.tests]


def run_case(compiled: CompiledRecipe, case: RecipeCase) -> CaseResult:
    recipe = compiled.recipe
    record: Any = case.input
    if recipe.direction == "outbound":
        try:
            record = record_input(parse_record(recipe.input, case.input))
        except CanonicalError as error:
            return CaseResult(case.name, False, error=f"input is not a valid {recipe.input}: {error}")
    try:
        output = compiled.map(record)
    except RecipeError as error:
        return _expected_error(case, error)
    if case.error_path is not None:
        return CaseResult(case.name, False, error=f"expected an error at {case.error_path}, got {output!r}")
    if case.skipped or output is None:
        passed = case.skipped and output is None
        reason = "expected the filter to skip the record" if case.skipped else "the filter skipped the record"
        return CaseResult(case.name, passed, error=None if passed else reason, output=output)
    differences = compare(case.output, output)
    if differences and recipe.direction == "inbound" and isinstance(case.output, Mapping):
        # an inbound case may also spell out the canonical record, with defaults and computed fields
        # (available, safety_stock); every field the recipe produced must still be listed
        parsed = compiled.map_record(record)
        assert parsed is not None  # map() above gave an output, so the filter keeps the record
        canonical = record_input(parsed)
        shown = {key: value for key, value in canonical.items() if key in case.output or key in output}
        if not compare(case.output, shown):
            return CaseResult(case.name, True, output=output)
        if set(case.output) - set(output):
            differences = compare(case.output, shown)
    return CaseResult(case.name, not differences, differences, output=output)


def _expected_error(case: RecipeCase, error: RecipeError) -> CaseResult:
    if case.error_path is None:
        return CaseResult(case.name, False, error=f"error at {error.path}: {error.reason}")
    if error.path != case.error_path:
        return CaseResult(
            case.name,
            False,
            error=f"expected an error at {case.error_path}, got {error.path}: {error.reason}",
        )
    if case.error_reason is not None and case.error_reason not in error.reason:
        return CaseResult(
            case.name,
            False,
            error=f"expected a reason containing {case.error_reason!r}, got {error.reason!r}",
        )
    return CaseResult(case.name, True)


def compare(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Differences between a case's expected output (as YAML reads it) and the mapped output.

    Decimals equal the text or number that spells them ("19.99" or 19.99), datetimes their ISO text;
    booleans never equal numbers.
    """
    where = path or "(output)"
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        differences: list[str] = []
        for key in expected:
            child = f"{path}.{key}" if path else str(key)
            if key not in actual:
                differences.append(f"{child}: expected {expected[key]!r}, but it is missing")
            else:
                differences += compare(expected[key], actual[key], child)
        differences += [
            f"{path}.{key}: not expected, got {actual[key]!r}"
            if path
            else f"{key}: not expected, got {actual[key]!r}"
            for key in actual
            if key not in expected
        ]
        return differences
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}: {actual!r}"]
        return [
            diff
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for diff in compare(e, a, f"{path}[{i}]")
        ]
    if _same(expected, actual):
        return []
    return [f"{where}: expected {expected!r}, got {actual!r}"]


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(actual, Decimal | float | int) and isinstance(expected, str | int | float | Decimal):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except InvalidOperation:
            return False
    if isinstance(actual, datetime | date) and isinstance(expected, str):
        try:
            parsed = (
                datetime.fromisoformat(expected)
                if isinstance(actual, datetime)
                else date.fromisoformat(expected)
            )
        except ValueError:
            return False
        return parsed == actual
    return bool(expected == actual)


@dataclass(frozen=True, slots=True)
class Preview:
    """What the portal shows while a recipe is edited: its problems, or each sample's outcome."""

    problems: list[RecipeProblem]
    results: list[MappedRecord]
    tests: list[CaseResult]


def preview(spec: Mapping[str, Any], samples: Sequence[Any]) -> Preview:
    """Validate ``spec`` and, when valid, map ``samples`` and run its tests; never raises for bad input."""
    try:
        compiled = compile_recipe(spec)
    except InvalidRecipeError as invalid:
        return Preview(problems=invalid.problems, results=[], tests=[])
    return Preview(problems=[], results=compiled.map_many(samples), tests=run_tests(compiled))


__all__ = ["CaseResult", "Preview", "compare", "preview", "run_case", "run_tests"]
