"""Connection config: validated against the template's JSON Schema; secret fields are ``writeOnly``.

A template marks a secret with ``"writeOnly": true`` (the JSON Schema keyword for "accepted, never
returned"). Secrets are split from the rest so the platform can encrypt them and never echo them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from connectors.sdk.errors import ConfigError

ConfigProblem = tuple[str, str]


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` if ``schema`` is not a valid JSON Schema (2020-12) object schema."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ConfigError(f"invalid config schema: {error.message}") from None
    if schema.get("type") != "object":
        raise ConfigError("a config schema must describe an object")


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def config_problems(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[ConfigProblem]:
    """Every (path, reason) where ``values`` breaks ``schema``, sorted by path; empty when valid."""
    validator = Draft202012Validator(schema)
    problems: list[ConfigProblem] = []
    for error in validator.iter_errors(dict(values)):
        path = _path(error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = f"{path}.{missing}" if path else missing
            problems.append((path, "is required"))
        elif error.validator == "additionalProperties":
            problems.append((path or "(config)", error.message))
        else:
            problems.append((path or "(config)", error.message))
    return sorted(problems)


def validate_config(schema: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    problems = config_problems(schema, values)
    if problems:
        listed = "; ".join(f"{path}: {reason}" for path, reason in problems)
        raise ConfigError(f"invalid configuration: {listed}", problems)


def secret_fields(schema: Mapping[str, Any]) -> frozenset[str]:
    """Top-level properties marked ``writeOnly``."""
    properties = schema.get("properties", {})
    return frozenset(name for name, spec in properties.items() if spec.get("writeOnly"))


def split_secrets(
    schema: Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public config, secrets) from one mapping of submitted values."""
    secret = secret_fields(schema)
    public = {k: v for k, v in values.items() if k not in secret}
    hidden = {k: v for k, v in values.items() if k in secret}
    return public, hidden


def apply_defaults(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each missing top-level property filled from the schema's ``default``."""
    merged = dict(values)
    for name, spec in schema.get("properties", {}).items():
        if name not in merged and "default" in spec:
            merged[name] = spec["default"]
    return merged
