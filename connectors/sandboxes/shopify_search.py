"""Shopify's search syntax as the sandbox understands it: ``sku:'A-1' OR sku:'B-2'``,
``updated_at:>'2024-01-01T00:00:00Z'``; terms side by side (or joined by AND) must all hold, OR separates
alternatives. Fields the sandbox does not know match everything, as Shopify ignores unknown filters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:(?P<keyword>OR|AND)(?=\s)|(?P<field>\w+):(?P<op>>=|<=|>|<)?"""
    r"""(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s()]+))"""
)


@dataclass(frozen=True, slots=True)
class Term:
    field: str
    op: str
    value: str


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def parse_search(query: str | None) -> list[list[Term]]:
    """Alternatives (OR) of conjunctions (AND) of terms; an empty list matches everything."""
    if not query or not query.strip():
        return []
    groups: list[list[Term]] = [[]]
    position = 0
    while position < len(query):
        if not query[position:].strip():
            break
        match = _TOKEN.match(query, position)
        if match is None:
            raise ValueError(f"cannot parse search query at {query[position:]!r}")
        position = match.end()
        if match.group("keyword") == "OR":
            groups.append([])
        elif match.group("field"):
            term = Term(match.group("field"), match.group("op") or "=", _unquote(match.group("value")))
            groups[-1].append(term)
    return [g for g in groups if g]


def _compare(actual: Any, term: Term) -> bool:
    if actual is None:
        return False
    if isinstance(actual, datetime):
        expected: Any = datetime.fromisoformat(term.value)
    else:
        actual, expected = str(actual), term.value
    if term.op == ">":
        return bool(actual > expected)
    if term.op == ">=":
        return bool(actual >= expected)
    if term.op == "<":
        return bool(actual < expected)
    if term.op == "<=":
        return bool(actual <= expected)
    return bool(actual == expected)


def matcher(query: str | None, fields: Mapping[str, Callable[[Any], Any]]) -> Callable[[Any], bool]:
    """A predicate over records; ``fields`` maps a search field to how to read it from a record."""
    groups = parse_search(query)

    def matches(record: Any) -> bool:
        if not groups:
            return True
        return any(
            all(t.field not in fields or _compare(fields[t.field](record), t) for t in group)
            for group in groups
        )

    return matches
