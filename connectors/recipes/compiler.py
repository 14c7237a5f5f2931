"""Compiling a validated recipe once into one Python function, and running it over records.

The generated source is straight-line code: every input path is looked up once into a local, each
output field is a short block with its own ``try`` (free in CPython 3.11 until something raises), and
the recipe's spec is never read again while mapping. ``CompiledRecipe.source`` shows what was generated.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from connectors.canonical import CanonicalError, Record, parse, record_type
from connectors.recipes.casts import CASTS, FAST_TYPES, describe
from connectors.recipes.errors import CastError, RecipeError
from connectors.recipes.expressions import Expression, PathKey
from connectors.recipes.functions import FUNCTIONS, OPERATORS
from connectors.recipes.money import to_major, to_minor
from connectors.recipes.spec import (
    EachRule,
    IfRule,
    InputPath,
    PipelineRule,
    Recipe,
    Rule,
    ValueRule,
    fingerprint,
    parse_recipe,
)
from connectors.recipes.units import convert, factor
from connectors.sdk.built_cache import BuiltCache

_CACHE_SIZE = 512
_MISSING = object()


def _fail(path: str, error: Exception) -> RecipeError:
    """The error a field block raises: our own reasons as they are, anything else named by its type."""
    if isinstance(error, RecipeError):
        return error
    if isinstance(error, CastError):
        return RecipeError(path, str(error))
    return RecipeError(path, f"{type(error).__name__}: {error}")


def _nested(path: str, index: int, error: RecipeError) -> RecipeError:
    """An error inside element ``index`` of an ``each`` list, e.g. ``fields.lines[2].quantity``."""
    inner = f".{error.path}" if error.path else ""
    return RecipeError(f"{path}[{index}]{inner}", error.reason)


def _lookup_miss(table: dict[Any, Any], name: str, value: Any, default: Any) -> Any:
    """A value not in a lookup table: try its text (YAML reads ``1:`` as a number), then the default."""
    if isinstance(value, int | float | Decimal):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if text in table:
            return table[text]
    if default is not _MISSING:
        return table.get(default, default)
    raise CastError(f"no entry for {describe(value)} in lookup {name!r}")


_RUNTIME: dict[str, Any] = {
    "Exception": Exception,
    "isinstance": isinstance,
    "len": len,
    "dict": dict,
    "list": list,
    "enumerate": enumerate,
    "Decimal": Decimal,
    **{kind.__name__: kind for kind in FAST_TYPES.values()},  # for the v.__class__ is int fast path
    "RecipeError": RecipeError,
    "CastError": CastError,
    "_describe": describe,
    "_fail": _fail,
    "_nested": _nested,
    "_lookup_miss": _lookup_miss,
    "_MISSING": _MISSING,
    "_unit": convert,
    "_to_minor": to_minor,
    "_to_major": to_major,
    "_copy": copy.deepcopy,
    **{f"_cast_{name}": cast for name, cast in CASTS.items()},
    **{f"_fn_{name}": function for name, (function, _, _) in FUNCTIONS.items()},
    **{f"_op_{name}": operator for name, operator in OPERATORS.items()},
}
"""What generated code can name; it runs with no builtins beyond these."""


@dataclass(frozen=True, slots=True)
class MappedRecord:
    """The outcome for one record of ``map_many``: ok with an output, skipped by the filter, or failed."""

    index: int
    status: Literal["ok", "skipped", "failed"]
    output: dict[str, Any] | None = None
    record: Record | None = None
    error: RecipeError | None = None

    @property
    def is_ok(self) -> bool:
        return self.status == "ok"


class CompiledRecipe:
    """A recipe version compiled to one function; ``map`` raises ``RecipeError``, ``map_many`` never does."""

    def __init__(self, recipe: Recipe, source: str, function: Callable[[Any], dict[str, Any] | None]) -> None:
        self.recipe = recipe
        self.source = source
        self.fingerprint = recipe.fingerprint
        self._function = function
        self._canonical: type[Record] | None = (
            record_type(recipe.output) if recipe.direction == "inbound" else None
        )

    def __repr__(self) -> str:
        return f"<CompiledRecipe {self.recipe.name!r} {self.fingerprint[:12]}>"

    def map(self, record: Any) -> dict[str, Any] | None:
        """The output for ``record``, or ``None`` when the recipe's filter skips it.

        For inbound recipes the output is also validated as the canonical type; its problems are
        reported as ``output.<path>``.
        """
        output = self._function(record)
        if output is not None and self._canonical is not None:
            self._validate(output)
        return output

    def map_record(self, record: Any) -> Record | None:
        """Inbound only: the canonical record the output describes, or ``None`` when filtered out."""
        if self._canonical is None:
            raise TypeError(f"{self.recipe.name} is an outbound recipe; it produces payloads, not records")
        output = self._function(record)
        return None if output is None else self._validate(output)

    def map_many(self, records: Iterable[Any]) -> list[MappedRecord]:
        """Map every record; a record that fails is reported and never stops its neighbours."""
        function, canonical = self._function, self._canonical
        results: list[MappedRecord] = []
        append = results.append
        for index, record in enumerate(records):
            try:
                output = function(record)
                if output is None:
                    append(MappedRecord(index, "skipped"))
                    continue
                parsed = self._validate(output) if canonical is not None else None
            except RecipeError as error:
                append(MappedRecord(index, "failed", error=error))
                continue
            append(MappedRecord(index, "ok", output=output, record=parsed))
        return results

    def _validate(self, output: dict[str, Any]) -> Record:
        assert self._canonical is not None
        try:
            return parse(self._canonical, output)
        except CanonicalError as error:
            path, reason = error.path, error.reason
            if reason == "is required":
                reason = "required by the canonical type, but the recipe gave no value"
            raise RecipeError(f"output.{path}" if path else "output", reason) from None


_compiled: BuiltCache[CompiledRecipe] = BuiltCache(_CACHE_SIZE)


def compile_recipe(spec: Mapping[str, Any] | Recipe) -> CompiledRecipe:
    """The compiled form of ``spec``; the same recipe version (same canonical JSON) compiles only once.

    Raises ``InvalidRecipeError`` listing every problem when ``spec`` is not a valid recipe.
    """
    key = spec.fingerprint if isinstance(spec, Recipe) else fingerprint(spec)
    return _compiled.get(key, lambda: _build(spec if isinstance(spec, Recipe) else parse_recipe(spec)))


def _build(recipe: Recipe) -> CompiledRecipe:
    module = _Module(recipe)
    source = module.generate()
    namespace: dict[str, Any] = {"__builtins__": {}, "__name__": f"recipe_{recipe.fingerprint[:12]}"}
    namespace.update(_RUNTIME)
    namespace.update(module.constants)
    code = compile(source, f"<recipe {recipe.name} {recipe.fingerprint[:12]}>", "exec")
    exec(code, namespace)  # noqa: S102 - source generated from a validated recipe; expressions are whitelisted
    return CompiledRecipe(recipe, source, namespace["map_record"])


def _identifier(keys: tuple[PathKey, ...]) -> str:
    text = "_".join(re.sub(r"[^0-9A-Za-z_]", "_", str(key)) for key in keys)
    return text[:40] or "record"


def _comment(spec: Any) -> str:
    text = json.dumps(spec, default=str, ensure_ascii=False)  # escapes newlines, so a comment stays one line
    return text if len(text) <= 100 else text[:97] + "..."


def _is_plain(value: Any) -> bool:
    """Whether ``repr(value)`` is a Python literal that rebuilds an equal, fresh value."""
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(item) for key, item in value.items())
    return False


class _Module:
    """The generated source: the top-level ``map_record`` plus one function per ``each`` rule."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.constants: dict[str, Any] = {}
        self.functions: list[list[str]] = []
        self.lookup_names: dict[str, str] = {}

    def generate(self) -> str:
        recipe = self.recipe
        top = _Function(self, "map_record", nested=False)
        doc = f"{recipe.name} ({recipe.direction}: {recipe.input} → {recipe.output})"
        lines = top.body(recipe.fields, _raw_fields(recipe.spec), recipe.filter, doc)
        header = [
            f"# Generated from recipe {recipe.fingerprint[:12]}: {_comment(recipe.name)}",
            "# Do not edit: change the recipe, which compiles again.",
            "",
        ]
        return "\n".join(
            header + lines + [line for function in self.functions for line in ["", "", *function]]
        )

    def constant(self, value: Any) -> str:
        """Source for a constant: a literal when one rebuilds it, else a global (deep-copied if mutable)."""
        if _is_plain(value):
            return repr(value)
        name = f"_K{len(self.constants)}"
        self.constants[name] = value
        return f"_copy({name})" if isinstance(value, dict | list) else name

    def lookup(self, name: str) -> str:
        if name not in self.lookup_names:
            table = dict(self.recipe.lookups[name])
            for key, value in list(table.items()):
                text = str(key).lower() if isinstance(key, bool) else str(key)
                table.setdefault(text, value)  # YAML reads 1: or true: as non-text keys; values may be text
            global_name = f"_lookup_{_identifier((name,))}_{len(self.lookup_names)}"
            self.constants[global_name] = table
            self.lookup_names[name] = global_name
        return self.lookup_names[name]


def _raw_fields(spec: Any) -> Mapping[str, Any]:
    fields = spec.get("fields") if isinstance(spec, Mapping) else None
    return fields if isinstance(fields, Mapping) else {}


class _Function:
    """One generated function: hoisted input paths, then one block per output field."""

    def __init__(self, module: _Module, name: str, *, nested: bool) -> None:
        self.module = module
        self.name = name
        self.nested = nested
        self.paths: dict[tuple[str, tuple[PathKey, ...]], str] = {}
        self.children: dict[str, list[tuple[str, PathKey]]] = {}
        self.taken: set[str] = set()

    # input paths ------------------------------------------------------------------------------------

    def ref(self, base: str, keys: tuple[PathKey, ...]) -> str:
        """A local holding the value at ``keys`` under ``base`` (record or root), looked up once."""
        if base == "root" and not self.nested:
            base = "record"
        if not keys:
            return base
        key = (base, keys)
        if key in self.paths:
            return self.paths[key]
        parent = self.ref(base, keys[:-1])
        prefix = "q_" if base == "root" else "r_"
        name = prefix + _identifier(keys)
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        self.children.setdefault(parent, []).append((name, keys[-1]))
        self.paths[key] = name
        return name

    def input_path(self, path: InputPath) -> str:
        return self.ref("root" if path.from_root else "record", path.keys)

    def expression(self, expression: Expression, value: str = "v") -> str:
        def resolve(base: str, keys: tuple[PathKey, ...]) -> str:
            if base == "value":
                return f"_op_path({value}, {keys!r})" if keys else value
            return self.ref(base, keys)

        return expression.translate(resolve)

    # the function -----------------------------------------------------------------------------------

    def body(
        self, fields: Mapping[str, Rule], raw: Mapping[str, Any], record_filter: Expression | None, doc: str
    ) -> list[str]:
        where = "" if self.nested else "fields."
        blocks: list[str] = []
        if record_filter is not None:
            blocks += [
                "    try:",
                f"        keep = {self.expression(record_filter)}",
                "    except Exception as error:",
                f"        raise _fail({'filter'!r}, error) from None",
                "    if not keep:",
                "        return None",
            ]
        containers: dict[str, str] = {}
        for name in fields:
            parts = name.split(".")
            for depth in range(1, len(parts)):
                containers.setdefault(".".join(parts[:depth]), "out_" + _identifier(tuple(parts[:depth])))
        blocks.append("    out = {}")
        blocks += [f"    {local} = {{}}" for local in containers.values()]
        for name, rule in fields.items():
            parent, _, leaf = name.rpartition(".")
            target = f"{containers[parent] if parent else 'out'}[{leaf!r}]"
            blocks += self.field(f"{where}{name}", target, rule, raw.get(name))
        for container, local in sorted(containers.items(), key=lambda item: -item[0].count(".")):
            parent, _, leaf = container.rpartition(".")
            blocks += [
                f"    if {local}:",
                f"        {containers[parent] if parent else 'out'}[{leaf!r}] = {local}",
            ]
        blocks.append("    return out")
        params = "record, root" if self.nested else "record"
        what = "an element" if self.nested else "the record"
        entry = [
            f"def {self.name}({params}):",
            f"    {json.dumps(doc, ensure_ascii=False)}",
            "    if not isinstance(record, dict):",
            f"        raise RecipeError({'' if self.nested else 'record'!r}, "
            f'f"expected {what} to be an object, got {{_describe(record)}}")',
        ]
        return entry + self.hoisted() + blocks

    def hoisted(self) -> list[str]:
        """The input lookups, parents before children; one type check covers all keys of an object."""
        lines: list[str] = []

        def emit(parent: str) -> None:
            children = self.children.get(parent, [])
            keyed = [(name, key) for name, key in children if isinstance(key, str)]
            if parent in ("record", "root"):
                # the record (and root) were checked to be objects on entry
                lines.extend(f"    {name} = {parent}.get({key!r})" for name, key in keyed)
            elif len(keyed) == 1:
                name, key = keyed[0]
                lines.append(f"    {name} = {parent}.get({key!r}) if isinstance({parent}, dict) else None")
            elif keyed:
                lines.append(f"    if isinstance({parent}, dict):")
                lines.extend(f"        {name} = {parent}.get({key!r})" for name, key in keyed)
                lines.extend(["    else:", f"        {' = '.join(name for name, _ in keyed)} = None"])
            for name, index in children:
                if isinstance(index, int):
                    fits = f"len({parent}) > {index}" if index >= 0 else f"len({parent}) >= {-index}"
                    lines.append(
                        f"    {name} = {parent}[{index}] if isinstance({parent}, list) and {fits} else None"
                    )
            for name, _ in children:
                emit(name)

        emit("record")
        emit("root")
        return lines

    def field(self, path: str, target: str, rule: Rule, raw: Any) -> list[str]:
        lines = [f"    # {path}: {_comment(raw)}", "    try:"]
        if isinstance(rule, ValueRule):
            lines.append(f"        {target} = {self.module.constant(rule.value)}")
        elif isinstance(rule, PipelineRule):
            lines += self.pipeline(rule, path, target)
        else:
            lines += self.value(rule, raw, path, "        ")
            lines += ["        if v is not None:", f"            {target} = v"]
            if rule.required:
                lines += ["        else:", f"            raise RecipeError({path!r}, {self.missing(rule)!r})"]
        lines += ["    except Exception as error:", f"        raise _fail({path!r}, error) from None"]
        return lines

    @staticmethod
    def missing(rule: Rule) -> str:
        source = getattr(rule, "source", None)
        if isinstance(source, InputPath):
            return f"required, but there is no value at {source.text}"
        return "required, but the rule gave no value"

    def value(self, rule: Rule, raw: Any, path: str, indent: str) -> list[str]:
        """Statements that leave the rule's value (or None) in ``v``."""
        if isinstance(rule, ValueRule):
            return [f"{indent}v = {self.module.constant(rule.value)}"]
        if isinstance(rule, PipelineRule):
            return self.pipeline(rule, path, None, indent)
        if isinstance(rule, IfRule):
            return self.conditional(rule, raw, path, indent)
        return self.each(rule, raw, path, indent)

    def pipeline(
        self, rule: PipelineRule, path: str, target: str | None, indent: str = "        "
    ) -> list[str]:
        """The rule's value into ``target`` (omitted when None), or into ``v`` when ``target`` is None."""
        lines: list[str] = []
        plain = (
            rule.source is not None and rule.expr is None and not rule.has_default and not self.steps(rule)
        )
        if plain and target is not None and rule.source is not None:  # a copy: no temporary needed
            local = self.input_path(rule.source)
            lines += [f"{indent}if {local} is not None:", f"{indent}    {target} = {local}"]
            if rule.required:
                lines += [
                    f"{indent}else:",
                    f"{indent}    raise RecipeError({path!r}, {self.missing(rule)!r})",
                ]
            return lines
        if rule.source is not None:
            lines.append(f"{indent}v = {self.input_path(rule.source)}")
        if rule.expr is not None:  # the parser requires from, expr or both
            lines.append(f"{indent}v = {self.expression(rule.expr)}")
        steps = self.steps(rule)
        # after a lookup the value can be None again (a table may map to null); nothing else gives None
        store = [] if target is None else [f"{target} = v"]
        if rule.lookup is not None and store:
            store = ["if v is not None:", f"    {store[0]}"]
        if rule.has_default and rule.default is not None:
            lines += [f"{indent}if v is None:", f"{indent}    v = {self.module.constant(rule.default)}"]
            return lines + [indent + step for step in steps + store]
        if steps or store:
            lines.append(f"{indent}if v is not None:")
            lines += [f"{indent}    {step}" for step in steps + store]
            if rule.required and target is not None:
                lines += [
                    f"{indent}else:",
                    f"{indent}    raise RecipeError({path!r}, {self.missing(rule)!r})",
                ]
        return lines

    def steps(self, rule: PipelineRule) -> list[str]:
        """Lookup, cast, unit and money, for a value known not to be None."""
        steps: list[str] = []
        if rule.lookup is not None:
            table = self.module.lookup(rule.lookup)
            default = self.module.constant(rule.default) if rule.has_default else "_MISSING"
            steps += [
                f"found = {table}.get(v, _MISSING)",
                "v = found if found is not _MISSING else "
                f"_lookup_miss({table}, {rule.lookup!r}, v, {default})",
            ]
        if rule.cast is not None:
            fast = FAST_TYPES.get(rule.cast)
            call = f"_cast_{rule.cast}(v)"
            steps.append(f"v = v if v.__class__ is {fast.__name__} else {call}" if fast else f"v = {call}")
        if rule.unit is not None:
            by = factor(rule.unit.source, rule.unit.target)
            arrow = f"{rule.unit.source} → {rule.unit.target}"
            steps.append(f"v = _unit(v, {self.module.constant(by)}, {float(by)!r})  # {arrow}")
        if rule.money is not None:
            money = rule.money
            if money.currency is not None:
                currency = self.input_path(money.currency)
                if self.nested and not money.currency.from_root:
                    # a list element rarely repeats its parent's currency: fall back to the root record's
                    root = self.ref("root", money.currency.keys)
                    currency = f"({currency} if {currency} is not None else {root})"
                where = money.currency.text
            else:
                currency, where = repr(money.currency_code), "currency_code"
            if money.to == "minor":
                steps.append(f"v = _to_minor(v, {currency}, {where!r}, {money.rounding!r})")
            else:
                steps.append(f"v = _to_major(v, {currency}, {where!r})")
        return steps

    def conditional(self, rule: IfRule, raw: Any, path: str, indent: str) -> list[str]:
        raw_map = raw if isinstance(raw, Mapping) else {}
        lines = [f"{indent}v = {self.input_path(rule.source)}"] if rule.source else []
        lines.append(f"{indent}if {self.expression(rule.condition)}:")
        lines += self.value(rule.then, raw_map.get("then"), path, indent + "    ")
        lines.append(f"{indent}else:")
        if rule.otherwise is None:
            lines.append(f"{indent}    v = None")
        else:
            lines += self.value(rule.otherwise, raw_map.get("else"), path, indent + "    ")
        return lines

    def each(self, rule: EachRule, raw: Any, path: str, indent: str) -> list[str]:
        raw_map = raw if isinstance(raw, Mapping) else {}
        helper = _Function(
            self.module,
            f"_each_{len(self.module.functions) + 1}_{_identifier(rule.source.keys)}",
            nested=True,
        )
        self.module.functions.append([])
        slot = len(self.module.functions) - 1
        doc = f"Maps one element of {rule.source.text} for {path}."
        self.module.functions[slot] = helper.body(rule.fields, _raw_fields(raw_map), rule.filter, doc)
        root = "root" if self.nested else "record"
        return [
            f"{indent}seq = {self.input_path(rule.source)}",
            f"{indent}if seq is None:",
            f"{indent}    v = None",
            f"{indent}elif not isinstance(seq, list):",
            f'{indent}    raise CastError(f"expected a list at {rule.source.text}, got {{_describe(seq)}}")',
            f"{indent}else:",
            f"{indent}    v = []",
            f"{indent}    for index, element in enumerate(seq):",
            f"{indent}        try:",
            f"{indent}            mapped = {helper.name}(element, {root})",
            f"{indent}        except RecipeError as error:",
            f"{indent}            raise _nested({path!r}, index, error) from None",
            f"{indent}        if mapped is not None:",
            f"{indent}            v.append(mapped)",
        ]
