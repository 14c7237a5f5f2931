"""Derived templates: a partner's variant of a built-in template, with defaults and locked fields.

A partner publishes, say, "Northwind ERP" over the ``tryton`` template with ``base_url`` and
``database`` filled in and locked, so its retailers only type their own credentials. A locked field
keeps the partner's value; a retailer who sends a different value gets an error naming the field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.sdk.config import ConfigProblem, secret_fields
from connectors.sdk.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Derivation:
    defaults: Mapping[str, Any] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()


def check_derivation(schema: Mapping[str, Any], derivation: Derivation) -> list[ConfigProblem]:
    """Problems with a derivation itself: unknown fields, locked fields without a default, locked secrets."""
    properties = schema.get("properties", {})
    problems: list[ConfigProblem] = []
    for name in sorted(set(derivation.defaults) - properties.keys()):
        problems.append((f"defaults.{name}", "not a field of the base template"))
    for name in sorted(derivation.locked):
        if name not in properties:
            problems.append((f"locked.{name}", "not a field of the base template"))
        elif name in secret_fields(schema):
            problems.append((f"locked.{name}", "secrets are set per connection and cannot be locked"))
        elif name not in derivation.defaults:
            problems.append((f"locked.{name}", "a locked field needs a default value"))
    return problems


def derived_schema(schema: Mapping[str, Any], derivation: Derivation) -> dict[str, Any]:
    """The base schema with the partner's defaults, and locked fields marked ``readOnly`` with a
    ``const`` so validation refuses any other value."""
    derived = copy.deepcopy(dict(schema))
    properties = derived.setdefault("properties", {})
    for name, value in derivation.defaults.items():
        if name in properties:
            properties[name]["default"] = value
    for name in derivation.locked:
        if name in properties:
            properties[name]["readOnly"] = True
            properties[name]["const"] = derivation.defaults[name]
    return derived


def apply_derivation(derivation: Derivation, submitted: Mapping[str, Any]) -> dict[str, Any]:
    """Submitted values over the partner's defaults; ``ConfigError`` if a locked field is changed."""
    problems = [
        (name, "is locked by your partner")
        for name in sorted(derivation.locked)
        if name in submitted and submitted[name] != derivation.defaults.get(name)
    ]
    if problems:
        raise ConfigError("locked fields cannot be changed", problems)
    return {**derivation.defaults, **submitted}
