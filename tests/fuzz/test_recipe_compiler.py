"""Property: a recipe built from the grammar's building blocks (paths, constants, casts, units, money,
lookups, conditions, ``each``, filters and expressions generated from the whitelisted operators and
functions), inbound into any canonical type or outbound, on any JSON input, gives a mapped output, a
skip or a ``RecipeError`` naming its path; the preview the API and portal run never raises.

tests/connectors/recipes/test_properties.py covers outbound recipes with a fixed list of expressions;
this one generates the expressions and the inbound side, where outputs are parsed as canonical records.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.canonical import RECORD_TYPES
from connectors.recipes import InvalidRecipeError, RecipeError, compile_recipe, preview
from connectors.recipes.casts import CASTS
from connectors.recipes.functions import FUNCTIONS
from connectors.recipes.spec import ROUNDINGS

KEYS = ["sku", "qty", "amount", "currency", "lines", "title", "location", "on_hand"]
BINARY = ["+", "-", "*", "/", "//", "%", "**"]
COMPARE = ["<", "<=", ">", ">=", "==", "!=", "in", "not in"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(["EUR", "JPY", "19.99", "-0", "1e400", "NaN", "SKU-1", "WH1"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=16,
)
records = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8) | json_values
paths = st.lists(st.sampled_from(KEYS), min_size=1, max_size=2).map(".".join) | st.sampled_from(
    ["lines[0].qty", "lines[-1].sku", "$.currency"]
)

literals = st.sampled_from(["0", "1", "2.5", "-3", "'EUR'", "''", "None", "True", "[1, 2]", "64", "1000"])
references = paths.filter(lambda p: not p.startswith("$")).map(lambda p: f"record.{p}".replace(".[", "["))


def _calls(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A whitelisted function with an argument count it accepts."""
    options: list[st.SearchStrategy[str]] = []
    for name, (_, least, most) in FUNCTIONS.items():
        arguments = st.lists(children, min_size=least, max_size=most if most is not None else least + 2)
        options.append(
            st.tuples(st.just(name), arguments).map(lambda call: f"{call[0]}({', '.join(call[1])})")
        )
    return st.one_of(options)


expressions = st.recursive(
    literals | references,
    lambda children: st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(COMPARE), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"(-{c})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        _calls(children),
    ),
    max_leaves=8,
)


def pipeline(source: str, extras: dict[str, Any]) -> dict[str, Any]:
    return {"from": source, **extras}


leaf_rules = st.one_of(
    paths,
    st.builds(lambda v: {"value": v}, json_values),
    st.builds(lambda p, c: pipeline(p, {"cast": c}), paths, st.sampled_from(list(CASTS))),
    st.builds(lambda p, d: pipeline(p, {"default": d}), paths, scalars),
    st.builds(
        lambda p, u: pipeline(p, {"unit": {"from": u[0], "to": u[1]}}),
        paths,
        st.sampled_from([("kg", "g"), ("lb", "oz"), ("m", "in"), ("l", "ml")]),
    ),
    st.builds(
        lambda p, c, to, rounding: pipeline(p, {"money": {"to": to, "currency": c, "rounding": rounding}}),
        paths,
        paths,
        st.sampled_from(["minor", "major"]),
        st.sampled_from(ROUNDINGS),
    ),
    st.builds(
        lambda p, code, to: pipeline(p, {"money": {"to": to, "currency_code": code}}),
        paths,
        st.sampled_from(["EUR", "JPY", "KWD"]),
        st.sampled_from(["minor", "major"]),
    ),
    st.builds(lambda p: pipeline(p, {"lookup": "codes", "default": "x"}), paths),
    st.builds(lambda e: {"expr": e}, expressions),
    st.builds(lambda p, e: {"from": p, "expr": e.replace("record.", "value.")}, paths, expressions),
    st.builds(lambda c, e: {"if": c, "then": {"expr": e}, "else": {"value": None}}, expressions, expressions),
    st.builds(lambda p, r: {"from": p, "required": r}, paths, st.booleans()),
)
rules = leaf_rules | st.builds(
    lambda p, inner: {"each": p, "fields": inner},
    paths,
    st.dictionaries(st.sampled_from(["sku", "qty", "x.y"]), leaf_rules, min_size=1, max_size=3),
)
field_names = st.sampled_from(["sku", "location", "on_hand", "amount", "currency", "title", "lines", "x.y"])


def recipe(
    direction: str, record_type: str, fields: dict[str, Any], record_filter: str | None
) -> dict[str, Any]:
    inbound = direction == "inbound"
    return {
        "recipe": 1,
        "name": "generated",
        "direction": direction,
        "input": "peer.payload" if inbound else record_type,
        "output": record_type if inbound else "peer.payload",
        "lookups": {"codes": {"SKU-1": "A", "EUR": "euro"}},
        "fields": fields,
        **({"filter": record_filter} if record_filter else {}),
    }


recipes = st.builds(
    recipe,
    st.sampled_from(["inbound", "outbound"]),
    st.sampled_from(sorted(RECORD_TYPES)),
    st.dictionaries(field_names, rules, min_size=1, max_size=5),
    st.none() | expressions,
)
BOUNDED = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(spec=recipes, record=records)
def test_any_valid_recipe_on_any_json_maps_or_names_the_path(spec: dict[str, Any], record: Any) -> None:
    invalid: InvalidRecipeError | None = None
    try:
        compiled = compile_recipe(spec)
    except InvalidRecipeError as error:  # the generator's grammar is wider than what validates
        invalid = error
    if invalid is not None:
        assert invalid.problems
        assert all(problem.reason for problem in invalid.problems)
        return
    failure: RecipeError | None = None
    try:
        output = compiled.map(record)
    except RecipeError as error:
        failure = error
    if failure is not None:
        assert failure.path
        assert failure.reason
        [result] = compiled.map_many([record])
        assert result.status == "failed"
        return
    assert output is None or isinstance(output, dict)
    [result] = compiled.map_many([record])
    assert result.status == ("skipped" if output is None else "ok")
    if spec["direction"] == "inbound" and output is not None:
        assert result.record is not None  # the output parsed as the canonical type


@settings(BOUNDED, max_examples=80)
@given(spec=recipes, samples=st.lists(records, max_size=3))
def test_preview_never_raises(spec: dict[str, Any], samples: list[Any]) -> None:
    shown = preview(spec, samples)
    assert shown.problems or len(shown.results) == len(samples)
