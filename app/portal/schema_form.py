"""A form generated from a connector template's JSON Schema, and the values a submitted form carries.

Strings are text inputs (a select for an ``enum``; a password input for ``writeOnly`` secrets, which are
never echoed back), integers and numbers are number inputs, booleans are checkboxes, objects and arrays
are JSON in a text area. What is wrong comes back from the template's own validation as (path, reason)
pairs and is shown next to the field it names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    title: str
    widget: str
    """text, password, number, checkbox, select or json"""
    required: bool
    description: str
    options: tuple[str, ...] = ()
    default: Any = None


def form_fields(schema: Mapping[str, Any]) -> list[Field]:
    required = set(schema.get("required", []))
    fields = []
    for name, spec in (schema.get("properties") or {}).items():
        if spec.get("readOnly"):
            continue
        kind = spec.get("type")
        if spec.get("writeOnly"):
            widget = "password"
        elif "enum" in spec:
            widget = "select"
        elif kind in ("integer", "number"):
            widget = "number"
        elif kind == "boolean":
            widget = "checkbox"
        elif kind in ("object", "array"):
            widget = "json"
        else:
            widget = "text"
        fields.append(
            Field(
                name=name,
                title=str(spec.get("title") or name.replace("_", " ")),
                widget=widget,
                required=name in required,
                description=str(spec.get("description") or ""),
                options=tuple(str(o) for o in spec.get("enum", ())),
                default=spec.get("default"),
            )
        )
    # required fields first, in the schema's order otherwise
    return sorted(fields, key=lambda f: not f.required)


def form_values(schema: Mapping[str, Any], form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The config a submitted form carries (empty optional fields left out, so defaults apply), and the
    fields whose text could not be read as their type."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in form_fields(schema):
        raw = form.get(f"config.{field.name}")
        if field.widget == "checkbox":
            values[field.name] = raw is not None and raw != ""
            continue
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        spec = schema["properties"][field.name]
        try:
            if field.widget == "json":
                values[field.name] = json.loads(text)
            elif spec.get("type") == "integer":
                values[field.name] = int(text)
            elif spec.get("type") == "number":
                values[field.name] = float(text)
            else:
                values[field.name] = text
        except ValueError:
            errors[field.name] = f"not a {'JSON value' if field.widget == 'json' else spec.get('type')}"
    return values, errors
