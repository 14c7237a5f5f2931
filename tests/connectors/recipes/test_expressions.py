"""The expression sandbox: only the whitelisted subset parses; nothing reaches Python's internals."""

from __future__ import annotations

import pytest

from connectors.recipes import InvalidRecipeError, compile_recipe
from connectors.recipes.expressions import ExpressionError, parse_expression
from tests.connectors.recipes.conftest import recipe


def refused(text: str) -> list[str]:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(text, allow_value=True)
    return raised.value.reasons


class TestSandbox:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("__import__('os')", "cannot call __import__"),
            ("record.__class__", "attributes starting with '_' are not allowed (__class__)"),
            ("().__class__", "attributes starting with '_' are not allowed (__class__)"),
            ("().__class__.__bases__[0].__subclasses__()", "method calls are not allowed"),
            ("lambda: 1", "lambdas are not allowed"),
            ("record.x.upper()", "method calls are not allowed; use a function, e.g. upper(record.x)"),
            ("[x for x in record.lines]", "comprehensions are not allowed"),
            ("open('/etc/passwd')", "cannot call open"),
            ("record.lines[0]()", "cannot call this"),
            ("f'{record.a}'", "f-strings are not allowed; use concat()"),
            ("record.a[1:2]", "slices are not allowed"),
            ("__builtins__", "dunder names are not allowed (__builtins__)"),
            ("os", "unknown name 'os'; read input as record.os"),
            ("upper", "upper is a function: call it, as upper(...)"),
            ("upper(record.a, key=1)", "upper() takes no keyword arguments"),
            ("upper(record.a, record.b)", "upper() takes 1 arguments, got 2"),
            ("(x := 1)", "assignments are not allowed"),
            ("record.a is 1", "'is' only compares with None"),
            ("~record.a", "operator ~ is not allowed"),
            ("record.a << 2", "operator LShift is not allowed"),
            ("b'x'", "constant b'x' is not allowed"),
        ],
    )
    def test_refused(self, text: str, reason: str) -> None:
        assert any(found.startswith(reason) for found in refused(text)), refused(text)

    def test_refused_expression_is_a_recipe_problem_with_its_path(self) -> None:
        with pytest.raises(InvalidRecipeError) as raised:
            compile_recipe(recipe({"t": {"expr": "record.__class__"}}))
        assert raised.value.problems[0].path == "fields.t.expr"

    def test_generated_code_has_no_builtins(self) -> None:
        compiled = compile_recipe(recipe({"t": {"expr": "upper(record.a)"}}))
        assert compiled.map({"a": "x"}) == {"t": "X"}
        assert "__import__" not in compiled.source

    def test_string_repetition_is_refused(self) -> None:
        compiled = compile_recipe(recipe({"t": {"expr": "record.a * 1000000000"}}))
        assert compiled.map_many([{"a": "x"}])[0].error is not None

    def test_huge_powers_are_refused(self) -> None:
        compiled = compile_recipe(recipe({"t": {"expr": "(record.a ** 64) ** 64"}}))
        result = compiled.map_many([{"a": 10**9}])[0]
        assert result.error is not None
        assert result.error.reason == "power too large"

    def test_record_keys_that_look_like_dunders_are_plain_data(self) -> None:
        compiled = compile_recipe(recipe({"t": {"expr": "record['__class__']"}}))
        assert compiled.map({"__class__": "data"}) == {"t": "data"}
        assert compiled.map({}) == {}


class TestOperators:
    @pytest.mark.parametrize(
        ("text", "record", "expected"),
        [
            ("record.a + 1", {"a": 1}, 2),
            ("record.a - record.b", {"a": "5.5", "b": 1}, __import__("decimal").Decimal("4.5")),
            ("record.a // 2", {"a": 7}, 3),
            ("record.a % 2", {"a": 7}, 1),
            ("-record.a", {"a": 7}, -7),
            ("1 < record.a <= 3", {"a": 3}, True),
            ("record.a == 1.5", {"a": __import__("decimal").Decimal("1.5")}, True),
            ("record.a != 'x'", {"a": "x"}, False),
            ("record.a not in ['x', 'y']", {"a": "z"}, True),
            ("record.a is None", {}, True),
            ("record.a if record.b else 'no'", {"a": "yes", "b": True}, "yes"),
            ("min(record.a)", {"a": [3, 1, None]}, 1),
            ("max(3, record.b, 9)", {}, 9),
            ("abs(record.a)", {"a": -2}, 2),
            ("join(record.tags, ',')", {"tags": ["a", "b"]}, "a,b"),
            ("replace(record.a, '-', '_')", {"a": "a-b"}, "a_b"),
            ("strip(record.a)", {"a": " a "}, "a"),
            ("int(record.a)", {"a": "4"}, 4),
            ("record.lines[1].sku", {"lines": [{}, {"sku": "S"}]}, "S"),
            ("record.m[record.k]", {"m": {"x": 1}, "k": "x"}, 1),
            ("{'a': record.a}", {"a": 1}, {"a": 1}),
        ],
    )
    def test_evaluates(self, text: str, record: dict[str, object], expected: object) -> None:
        assert compile_recipe(recipe({"t": {"expr": text}})).map(record) == {"t": expected}
