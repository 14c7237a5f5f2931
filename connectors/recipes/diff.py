"""What changed between two recipe versions: one entry per changed path, with the values before and after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class SpecChange:
    path: str
    kind: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def diff_specs(before: Any, after: Any, path: str = "") -> list[SpecChange]:
    """Changes from ``before`` to ``after``, sorted by path; mappings and lists are compared item by item."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[SpecChange] = []
        for key in sorted(before.keys() | after.keys(), key=str):
            changes += _diff_value(before.get(key, _ABSENT), after.get(key, _ABSENT), _join(path, str(key)))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else _ABSENT
            new = after[index] if index < len(after) else _ABSENT
            changes += _diff_value(old, new, _join(path, index))
        return changes
    return _diff_value(before, after, path)


def _diff_value(before: Any, after: Any, path: str) -> list[SpecChange]:
    if before is _ABSENT:
        return [SpecChange(path, "added", after=after)]
    if after is _ABSENT:
        return [SpecChange(path, "removed", before=before)]
    if isinstance(before, dict | list) and type(before) is type(after):
        return diff_specs(before, after, path)
    if before == after and type(before) is type(after):
        return []
    return [SpecChange(path, "changed", before, after)]
