"""Property: any valid recipe on any JSON input gives an output, a skip or a RecipeError, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.recipes import RecipeError, compile_recipe
from connectors.recipes.casts import CASTS

KEYS = ["a", "b", "c", "amount", "currency", "lines", "attributes"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from([*KEYS, "EUR", "1.5", "JPY"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=20,
)
paths = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(".".join) | st.sampled_from(
    ["lines[0].a", "$.currency"]
)
expressions = st.sampled_from(
    [
        "record.a + record.b",
        "upper(record.a)",
        "record.amount * 1.5 > 2",
        "coalesce(record.a, record.b, 'x')",
        "len(record.lines) if record.lines else 0",
        "round(record.amount, 2)",
        "concat(record.a, '-', record.b)",
        "record.lines[0].a - 1",
        "max(record.lines)",
        "int(record.a) // 3 % 2",
        "record.a in record.lines",
        "-record.a ** 2",
        "record.a / record.b",
    ]
)
units = st.sampled_from([("kg", "g"), ("lb", "oz"), ("m", "in"), ("l", "ml")])


def pipeline(source: str, extras: dict[str, Any]) -> dict[str, Any]:
    return {"from": source, **extras}


leaf_rules = st.one_of(
    paths,
    st.builds(lambda v: {"value": v}, json_values),
    st.builds(
        lambda p, c, d: pipeline(p, {"cast": c, **({"default": d} if d is not None else {})}),
        paths,
        st.sampled_from(list(CASTS)),
        json_values,
    ),
    st.builds(lambda p, u: pipeline(p, {"unit": {"from": u[0], "to": u[1]}}), paths, units),
    st.builds(
        lambda p, c, to: pipeline(p, {"money": {"to": to, "currency": c}}),
        paths,
        paths,
        st.sampled_from(["minor", "major"]),
    ),
    st.builds(lambda p: pipeline(p, {"lookup": "t", "default": "x"}), paths),
    st.builds(lambda p: pipeline(p, {"lookup": "t"}), paths),
    st.builds(lambda e: {"expr": e}, expressions),
    st.builds(lambda e: {"if": e, "then": "yes", "else": {"from": "a"}}, expressions),
    st.builds(lambda p, r: {"from": p, "required": r}, paths, st.booleans()),
)
rules = leaf_rules | st.builds(
    lambda p, inner: {"each": p, "fields": inner},
    paths,
    st.dictionaries(st.sampled_from(["x", "y.z"]), leaf_rules, min_size=1, max_size=3),
)
recipes = st.builds(
    lambda fields, record_filter: {
        "recipe": 1,
        "name": "generated",
        "direction": "outbound",
        "input": "item",
        "output": "anything",
        "lookups": {"t": {"a": 1, "x": "y", 2: "two"}},
        "fields": fields,
        **({"filter": record_filter} if record_filter else {}),
    },
    st.dictionaries(st.sampled_from(["sku", "title", "p.q", "p.r", "n"]), rules, min_size=1, max_size=5),
    st.none() | expressions,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=recipes, record=json_values | st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6))
def test_any_recipe_on_any_json_maps_or_raises_recipe_error(spec: dict[str, Any], record: Any) -> None:
    compiled = compile_recipe(spec)
    failure: RecipeError | None = None
    try:
        output = compiled.map(record)
    except RecipeError as error:
        failure = error
    [result] = compiled.map_many([record])
    if failure is not None:
        assert failure.path  # every failure names where
        assert result.status == "failed"
    else:
        assert output is None or isinstance(output, dict)
        assert result.status in ("ok", "skipped")
