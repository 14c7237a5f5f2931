"""Interpolation in manifests: Jinja2 in a sandbox that sees only the variables a place declares.

Each templated string is compiled when the manifest is loaded, so a syntax error, an unknown filter,
a variable the place does not offer or an attribute starting with ``_`` is reported then, with the
manifest path. A string that is exactly one ``{{ expression }}`` keeps the expression's type (a number,
a dict, a list); any other string renders to text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from connectors.sdk.errors import ConfigError

VARIABLES = frozenset({"config", "secrets", "cursor", "page", "record", "now"})
"""Every variable a manifest may use; each place offers a subset (see ``components``)."""

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


class InterpolationError(ConfigError):
    """A template that cannot be compiled or rendered; ``problems`` holds one (path, reason)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}", [(where, reason)])


class _ManifestEnvironment(SandboxedEnvironment):
    """Prefers a mapping's keys to its methods, so ``record.items`` is the record's field, not
    ``dict.items`` (plain Jinja looks up attributes first)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _path_segment(value: Any) -> str:
    """A value made safe for one URL path segment (``/`` included), unlike Jinja's ``urlencode``."""
    return quote(str(value), safe="")


ENVIRONMENT = _ManifestEnvironment(undefined=StrictUndefined, autoescape=False)
# Only declared variables exist: drop Jinja's default globals (range, dict, lipsum, cycler, …).
ENVIRONMENT.globals.clear()
ENVIRONMENT.filters["path_segment"] = _path_segment


def is_templated(text: str) -> bool:
    return "{{" in text or "{%" in text


@dataclass(frozen=True)
class Interpolated:
    """A compiled template string; ``render`` gives text, or the native value of a lone expression."""

    source: str
    where: str
    references: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    """(variable, first attribute) pairs such as ("config", "base_url"), for load-time checks."""

    def render(self, variables: Mapping[str, Any]) -> Any:
        try:
            whole = _WHOLE_EXPRESSION.match(self.source)
            if whole:
                value = ENVIRONMENT.compile_expression(whole["expression"], undefined_to_none=False)(
                    **variables
                )
                if isinstance(value, Undefined):
                    str(value)  # StrictUndefined raises here with Jinja's own message
                return value
            return ENVIRONMENT.from_string(self.source).render(**variables)
        except UndefinedError as error:
            raise InterpolationError(self.where, f"{error.message} in {self.source!r}") from None
        except SecurityError as error:
            raise InterpolationError(self.where, f"not allowed: {error}") from None
        except (TypeError, ValueError, ArithmeticError) as error:
            raise InterpolationError(self.where, f"cannot render {self.source!r}: {error}") from None


def _references(tree: nodes.Template) -> frozenset[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name):
            found.add((attr.node.name, attr.attr))
    for item in tree.find_all(nodes.Getitem):
        node, arg = item.node, item.arg
        if isinstance(node, nodes.Name) and isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            found.add((node.name, arg.value))
    return frozenset(found)


def _private_names(tree: nodes.Template) -> list[str]:
    names = [node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")]
    for node in tree.find_all(nodes.Getitem):
        arg = node.arg
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value.startswith("_"):
            names.append(arg.value)
    return names


def interpolate(source: str, where: str, allowed: frozenset[str]) -> Interpolated:
    """Compile ``source`` for the place ``where`` that offers the variables ``allowed``."""
    try:
        tree = ENVIRONMENT.parse(source)
        ENVIRONMENT.from_string(source)  # compiling also catches unknown filters and tests
    except TemplateSyntaxError as error:
        raise InterpolationError(where, f"template error: {error.message}") from None
    private = _private_names(tree)
    if private:
        raise InterpolationError(where, f"attributes starting with '_' are not allowed: {private[0]}")
    unknown = sorted(meta.find_undeclared_variables(tree) - allowed)
    if unknown:
        offered = ", ".join(sorted(allowed))
        raise InterpolationError(where, f"unknown variable {unknown[0]!r}; available here: {offered}")
    return Interpolated(source=source, where=where, references=_references(tree))


Tree = Any
"""A JSON-like value whose templated strings are ``Interpolated``."""


def interpolate_tree(value: Any, where: str, allowed: frozenset[str]) -> Tree:
    """Compile every templated string inside a JSON-like value (a body, a params mapping)."""
    if isinstance(value, str):
        return interpolate(value, where, allowed) if is_templated(value) else value
    if isinstance(value, dict):
        return {key: interpolate_tree(item, f"{where}.{key}", allowed) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(item, f"{where}[{i}]", allowed) for i, item in enumerate(value)]
    return value


def render_tree(tree: Tree, variables: Mapping[str, Any]) -> Any:
    if isinstance(tree, Interpolated):
        return tree.render(variables)
    if isinstance(tree, dict):
        return {key: render_tree(item, variables) for key, item in tree.items()}
    if isinstance(tree, list):
        return [render_tree(item, variables) for item in tree]
    return tree


def leaves(tree: Tree) -> list[Interpolated]:
    """Every compiled template inside ``tree``."""
    if isinstance(tree, Interpolated):
        return [tree]
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in leaves(value)]
    if isinstance(tree, list):
        return [leaf for value in tree for leaf in leaves(value)]
    return []
