"""What a recipe is: typed structures parsed from a recipe's YAML/JSON dict, with every problem collected.

``parse_recipe(spec)`` returns a ``Recipe`` or raises ``InvalidRecipeError`` listing all problems, each with a
path into the recipe (``fields.price.money.to``) and a reason. The format is described in docs/recipes.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.canonical import RECORD_TYPES
from connectors.canonical.currencies import is_currency
from connectors.recipes.casts import CASTS
from connectors.recipes.errors import InvalidRecipeError, RecipeProblem
from connectors.recipes.expressions import Expression, ExpressionError, PathKey, parse_expression
from connectors.recipes.units import unit_problem

Direction = Literal["inbound", "outbound"]
ROUNDINGS = ("half_up", "half_even", "down", "up")

_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


@dataclass(frozen=True, slots=True)
class InputPath:
    """Where a rule reads: keys from the record (or, with a ``$.`` prefix, from the root record)."""

    text: str
    keys: tuple[PathKey, ...]
    from_root: bool = False


@dataclass(frozen=True, slots=True)
class MoneySpec:
    """``money: {to: minor|major, currency: <path> | currency_code: EUR, rounding: half_up}``."""

    to: Literal["minor", "major"]
    currency: InputPath | None = None
    currency_code: str | None = None
    rounding: str | None = None


@dataclass(frozen=True, slots=True)
class UnitSpec:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class ValueRule:
    """``{value: x}``: a constant, emitted as written (even null)."""

    value: Any


@dataclass(frozen=True, slots=True)
class PipelineRule:
    """``from`` and/or ``expr``, then default, lookup, cast, unit and money, in that order."""

    source: InputPath | None = None
    expr: Expression | None = None
    has_default: bool = False
    default: Any = None
    required: bool = False
    lookup: str | None = None
    cast: str | None = None
    unit: UnitSpec | None = None
    money: MoneySpec | None = None


@dataclass(frozen=True, slots=True)
class IfRule:
    """``{if: cond, then: x, else: y}``; ``then``/``else`` are constants, or rules written as mappings."""

    condition: Expression
    then: Rule
    otherwise: Rule | None
    source: InputPath | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class EachRule:
    """``{each: path, fields: {...}}``: map every element of a list with its own fields."""

    source: InputPath
    fields: dict[str, Rule]
    filter: Expression | None = None
    required: bool = False


Rule = ValueRule | PipelineRule | IfRule | EachRule


@dataclass(frozen=True, slots=True)
class RecipeCase:
    """One of a recipe's ``tests:``: an input and the output, skip or error it must give."""

    name: str
    input: Any
    output: Any = None
    skipped: bool = False
    error_path: str | None = None
    error_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str
    direction: Direction
    input: str
    output: str
    fields: dict[str, Rule]
    lookups: dict[str, dict[Any, Any]] = field(default_factory=dict)
    filter: Expression | None = None
    tests: list[RecipeCase] = field(default_factory=list)
    description: str | None = None
    fingerprint: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def canonical_type(self) -> str:
        """The canonical type this recipe reads (outbound) or produces (inbound)."""
        return self.input if self.direction == "outbound" else self.output


def fingerprint(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the recipe's canonical JSON: one compiled function per distinct recipe version."""
    text = json.dumps(
        _string_keys(spec), sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _string_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _string_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_string_keys(item) for item in value]
    return value


def parse_path(text: Any) -> InputPath:
    """``attributes.weight_kg``, ``lines[0].sku``, ``$.currency`` (the root record inside ``each``)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("must be a path such as sku, attributes.colour or lines[0].sku")
    from_root = text.startswith("$.")
    body = text[2:] if from_root else text
    keys: list[PathKey] = []
    for segment in body.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ValueError(f"{text!r} is not a valid path (at {segment!r})")
        keys.append(match.group(1))
        keys.extend(int(index) for index in _INDEX.findall(match.group(2)))
    return InputPath(text=text, keys=tuple(keys), from_root=from_root)


class _Parser:
    """Walks a recipe dict once, building typed structures and collecting every problem."""

    def __init__(self, lookups: Mapping[str, Any]) -> None:
        self.problems: list[RecipeProblem] = []
        self.lookups = lookups

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(RecipeProblem(path, reason))

    def keys(self, spec: Mapping[str, Any], path: str, allowed: set[str], *, rule: bool = False) -> None:
        for key in spec:
            if key not in allowed:
                hint = f"; allowed: {', '.join(sorted(allowed))}" if rule else ""
                self.problem(_join(path, str(key)), f"unknown key{hint}")

    def path(self, value: Any, where: str) -> InputPath | None:
        try:
            return parse_path(value)
        except ValueError as error:
            self.problem(where, str(error))
            return None

    def expression(self, text: Any, where: str, *, allow_value: bool) -> Expression | None:
        try:
            return parse_expression(text, allow_value=allow_value)
        except ExpressionError as error:
            for reason in error.reasons:
                self.problem(where, reason)
            return None

    def fields(self, spec: Any, where: str) -> dict[str, Rule]:
        if not isinstance(spec, Mapping) or not spec:
            self.problem(where, "must map output field names to rules")
            return {}
        rules: dict[str, Rule] = {}
        for name, rule_spec in spec.items():
            rule_path = f"{where}.{name}"
            if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
                self.problem(rule_path, "output field names must be non-empty text (dots nest objects)")
                continue
            rule = self.rule(rule_spec, rule_path)
            if rule is not None:
                rules[name] = rule
        for name in spec:
            if isinstance(name, str):
                for other in spec:
                    if isinstance(other, str) and name.startswith(other + "."):
                        self.problem(f"{where}.{name}", f"conflicts with the field {other!r}")
        return rules

    def rule(self, spec: Any, where: str) -> Rule | None:
        if isinstance(spec, str):
            source = self.path(spec, where)
            return PipelineRule(source=source) if source else None
        if not isinstance(spec, Mapping):
            if isinstance(spec, list):
                self.problem(where, "a rule is a path or a mapping; write {value: [...]} for a constant list")
                return None
            return ValueRule(spec)  # numbers, booleans and null can only be constants
        kinds = [kind for kind in ("value", "each", "if") if kind in spec]
        if len(kinds) > 1 or (kinds and kinds[0] == "value" and len(spec) > 1):
            self.problem(where, f"a rule has one of value, each, if or from/expr, not {' and '.join(spec)}")
            return None
        if "value" in spec:
            return ValueRule(spec["value"])
        if "each" in spec:
            return self.each_rule(spec, where)
        if "if" in spec:
            return self.if_rule(spec, where)
        if "from" in spec or "expr" in spec:
            return self.pipeline_rule(spec, where)
        self.problem(where, "a rule needs one of from, value, expr, if or each")
        return None

    def required(self, spec: Mapping[str, Any], where: str) -> bool:
        required = spec.get("required", False)
        if not isinstance(required, bool):
            self.problem(f"{where}.required", "must be true or false")
            return False
        return required

    def pipeline_rule(self, spec: Mapping[str, Any], where: str) -> PipelineRule | None:
        allowed = {"from", "expr", "default", "required", "lookup", "cast", "unit", "money"}
        self.keys(spec, where, allowed, rule=True)
        source = self.path(spec["from"], f"{where}.from") if "from" in spec else None
        expr = None
        if "expr" in spec:
            expr = self.expression(spec["expr"], f"{where}.expr", allow_value="from" in spec)
        lookup = spec.get("lookup")
        if lookup is not None and (not isinstance(lookup, str) or lookup not in self.lookups):
            known = ", ".join(sorted(map(str, self.lookups))) or "none"
            self.problem(f"{where}.lookup", f"no lookup table named {lookup!r} (lookups: {known})")
        cast = spec.get("cast")
        if cast is not None and cast not in CASTS:
            self.problem(f"{where}.cast", f"unknown cast {cast!r}; casts: {', '.join(CASTS)}")
        unit = self.unit(spec["unit"], f"{where}.unit") if "unit" in spec else None
        money = self.money(spec["money"], f"{where}.money") if "money" in spec else None
        if money is not None and unit is not None:
            self.problem(where, "a rule converts money or units, not both")
        return PipelineRule(
            source=source,
            expr=expr,
            has_default="default" in spec,
            default=spec.get("default"),
            required=self.required(spec, where),
            lookup=lookup if isinstance(lookup, str) else None,
            cast=cast if isinstance(cast, str) else None,
            unit=unit,
            money=money,
        )

    def unit(self, spec: Any, where: str) -> UnitSpec | None:
        if not isinstance(spec, Mapping) or "from" not in spec or "to" not in spec:
            self.problem(where, "must be {from: <unit>, to: <unit>}")
            return None
        self.keys(spec, where, {"from", "to"})
        source, target = str(spec["from"]), str(spec["to"])
        reason = unit_problem(source, target)
        if reason is not None:
            self.problem(where, reason)
            return None
        return UnitSpec(source, target)

    def money(self, spec: Any, where: str) -> MoneySpec | None:
        if not isinstance(spec, Mapping):
            self.problem(
                where, "must be {to: minor|major, currency: <path>} or {to: ..., currency_code: EUR}"
            )
            return None
        self.keys(spec, where, {"to", "currency", "currency_code", "rounding"})
        to = spec.get("to")
        if to not in ("minor", "major"):
            self.problem(f"{where}.to", "must be 'minor' or 'major'")
        currency = self.path(spec["currency"], f"{where}.currency") if "currency" in spec else None
        code = spec.get("currency_code")
        if ("currency" in spec) == ("currency_code" in spec):
            self.problem(where, "needs exactly one of currency (a path) or currency_code (e.g. EUR)")
        elif code is not None and (not isinstance(code, str) or not is_currency(code)):
            self.problem(f"{where}.currency_code", f"{code!r} is not an ISO 4217 currency code")
        rounding = spec.get("rounding")
        if rounding is not None and (rounding not in ROUNDINGS or to != "minor"):
            self.problem(f"{where}.rounding", f"must be one of {', '.join(ROUNDINGS)}, with to: minor")
        if to not in ("minor", "major"):
            return None
        return MoneySpec(
            to=to,
            currency=currency,
            currency_code=code if isinstance(code, str) else None,
            rounding=rounding if isinstance(rounding, str) else None,
        )

    def if_rule(self, spec: Mapping[str, Any], where: str) -> IfRule | None:
        self.keys(spec, where, {"if", "then", "else", "from", "required"}, rule=True)
        source = self.path(spec["from"], f"{where}.from") if "from" in spec else None
        condition = self.expression(spec["if"], f"{where}.if", allow_value="from" in spec)
        if "then" not in spec:
            self.problem(where, "if needs then (and optionally else)")
        then = self.branch(spec.get("then"), f"{where}.then")
        otherwise = self.branch(spec["else"], f"{where}.else") if "else" in spec else None
        required = self.required(spec, where)
        if condition is None or then is None:
            return None
        return IfRule(condition=condition, then=then, otherwise=otherwise, source=source, required=required)

    def branch(self, spec: Any, where: str) -> Rule | None:
        # then/else text is a constant (then: in_stock); a mapping is a rule (then: {from: x})
        if isinstance(spec, Mapping):
            return self.rule(spec, where)
        return ValueRule(spec)

    def each_rule(self, spec: Mapping[str, Any], where: str) -> EachRule | None:
        self.keys(spec, where, {"each", "fields", "filter", "required"}, rule=True)
        source = self.path(spec["each"], f"{where}.each")
        fields = self.fields(spec.get("fields"), f"{where}.fields")
        item_filter = None
        if "filter" in spec:
            item_filter = self.expression(spec["filter"], f"{where}.filter", allow_value=False)
        required = self.required(spec, where)
        if source is None or not fields:
            return None
        return EachRule(source=source, fields=fields, filter=item_filter, required=required)

    def case(self, spec: Any, where: str) -> RecipeCase | None:
        if not isinstance(spec, Mapping):
            self.problem(where, "a test is {name, input, output} (or skipped: true, or error: <path>)")
            return None
        self.keys(spec, where, {"name", "input", "output", "skipped", "error"})
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            self.problem(f"{where}.name", "every test needs a name")
        if "input" not in spec:
            self.problem(f"{where}.input", "every test needs an input")
        outcomes = [key for key in ("output", "skipped", "error") if key in spec]
        if len(outcomes) != 1:
            self.problem(where, "a test expects exactly one of output, skipped: true or error: <path>")
            return None
        if "skipped" in spec and spec["skipped"] is not True:
            self.problem(f"{where}.skipped", "must be true")
        error = spec.get("error")
        error_path, error_reason = None, None
        if isinstance(error, str):
            error_path = error
        elif isinstance(error, Mapping) and isinstance(error.get("path"), str):
            self.keys(error, f"{where}.error", {"path", "reason"})
            error_path, error_reason = error["path"], error.get("reason")
            if error_reason is not None and not isinstance(error_reason, str):
                self.problem(f"{where}.error.reason", "must be text found in the error's reason")
        elif "error" in spec:
            self.problem(f"{where}.error", "must be the failing path, or {path, reason}")
        return RecipeCase(
            name=str(name),
            input=spec.get("input"),
            output=spec.get("output"),
            skipped="skipped" in spec,
            error_path=error_path,
            error_reason=error_reason,
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _canonical_name(parser: _Parser, value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in RECORD_TYPES:
        known = ", ".join(sorted(RECORD_TYPES))
        parser.problem(where, f"unknown canonical type {value!r}; known: {known}")
    return str(value)


def validate_recipe(spec: Any) -> list[RecipeProblem]:
    """Every problem with ``spec``, or an empty list for a valid recipe."""
    try:
        parse_recipe(spec)
    except InvalidRecipeError as invalid:
        return invalid.problems
    return []


def parse_recipe(spec: Any) -> Recipe:
    """Parse a recipe dict (decoded YAML or JSON) into a ``Recipe``; ``InvalidRecipeError`` lists problems."""
    if not isinstance(spec, Mapping):
        raise InvalidRecipeError(
            [RecipeProblem("", "a recipe is a mapping (recipe: 1, name, direction, fields...)")]
        )
    raw_lookups = spec.get("lookups", {})
    parser = _Parser(raw_lookups if isinstance(raw_lookups, Mapping) else {})
    allowed = {"recipe", "name", "description", "direction", "input", "output", "filter", "lookups", "fields"}
    parser.keys(spec, "", allowed | {"tests"})
    if spec.get("recipe") != 1:
        parser.problem("recipe", "must be 1 (the recipe format version)")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        parser.problem("name", "every recipe needs a name")
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        parser.problem("description", "must be text")
    direction = spec.get("direction")
    if direction not in ("inbound", "outbound"):
        parser.problem(
            "direction", "must be 'inbound' (source → canonical) or 'outbound' (canonical → destination)"
        )
    for key in ("input", "output"):
        if not isinstance(spec.get(key), str) or not spec.get(key):
            parser.problem(
                key, "must name the record type (a canonical type, or a free label for the other side)"
            )
    if direction == "outbound" and isinstance(spec.get("input"), str):
        _canonical_name(parser, spec["input"], "input")
    if direction == "inbound" and isinstance(spec.get("output"), str):
        _canonical_name(parser, spec["output"], "output")
    lookups: dict[str, dict[Any, Any]] = {}
    if not isinstance(raw_lookups, Mapping):
        parser.problem("lookups", "must map table names to tables ({name: {from: to}})")
    else:
        for table_name, table in raw_lookups.items():
            if not isinstance(table, Mapping):
                parser.problem(
                    f"lookups.{table_name}", "a lookup table maps values to values ({web: default})"
                )
            elif not isinstance(table_name, str):
                parser.problem(f"lookups.{table_name}", "table names must be text")
            else:
                lookups[table_name] = dict(table)
    record_filter = None
    if "filter" in spec:
        record_filter = parser.expression(spec["filter"], "filter", allow_value=False)
    fields = parser.fields(spec.get("fields"), "fields")
    tests: list[RecipeCase] = []
    raw_tests = spec.get("tests", [])
    if not isinstance(raw_tests, list):
        parser.problem("tests", "must be a list of {name, input, output}")
    else:
        for index, case_spec in enumerate(raw_tests):
            case = parser.case(case_spec, f"tests[{index}]")
            if case is not None:
                tests.append(case)
    if parser.problems:
        raise InvalidRecipeError(parser.problems)
    return Recipe(
        name=str(name),
        direction="inbound" if direction == "inbound" else "outbound",
        input=spec["input"],
        output=spec["output"],
        fields=fields,
        lookups=lookups,
        filter=record_filter,
        tests=tests,
        description=description,
        fingerprint=fingerprint(spec),
        spec=spec,
    )
