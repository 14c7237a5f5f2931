"""The manifest's JSON Schema (2020-12), and its problems as (path, reason) pairs.

Components pick their shape by ``type:``; each type's fields are checked by an ``if``/``then`` pair
rather than ``oneOf``, so a mistake is reported at the field that is wrong, not as "matches none".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.sdk.config import ConfigProblem, config_problems
from connectors.sdk.domains import Domain, Kind

MANIFEST_VERSION = 1
_DOTTED_PATH = r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"


def _typed(types: dict[str, dict[str, Any]], *, common: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object whose ``type`` selects one of ``types`` (each: properties and required fields)."""
    return {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": sorted(types)}, **(common or {})},
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {
                    "properties": {"type": True, **(common or {}), **spec.get("properties", {})},
                    "required": spec.get("required", []),
                    "additionalProperties": False,
                },
            }
            for name, spec in types.items()
        ],
    }


_TEXT = {"type": "string", "minLength": 1}
_STRINGS = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
_PAGE_SIZE = {"type": "integer", "minimum": 1, "maximum": 10000}

AUTH = _typed(
    {
        "none": {},
        "api_key": {
            "properties": {"key": _TEXT, "header": _TEXT, "query": _TEXT},
            "required": ["key"],
        },
        "basic": {"properties": {"username": _TEXT, "password": _TEXT}, "required": ["username", "password"]},
        "bearer": {"properties": {"token": _TEXT, "scheme": _TEXT}, "required": ["token"]},
        "oauth2_client_credentials": {
            "properties": {"token_url": _TEXT, "client_id": _TEXT, "client_secret": _TEXT, "scope": _TEXT},
            "required": ["token_url", "client_id", "client_secret"],
        },
        "oauth2_authorization_code": {
            "properties": {
                "token_url": _TEXT,
                "authorize_url": _TEXT,
                "client_id": _TEXT,
                "client_secret": _TEXT,
                "scope": _TEXT,
            },
            "required": ["token_url", "authorize_url", "client_id", "client_secret"],
        },
    }
)

PAGINATOR = _typed(
    {
        "NoPagination": {},
        "PageIncrement": {
            "properties": {
                "page_param": _TEXT,
                "size_param": _TEXT,
                "page_size": _PAGE_SIZE,
                "start_page": {"type": "integer", "minimum": 0},
            },
        },
        "OffsetIncrement": {
            "properties": {"offset_param": _TEXT, "limit_param": _TEXT, "page_size": _PAGE_SIZE},
        },
        "CursorPagination": {
            "properties": {
                "cursor_param": _TEXT,
                "token_path": {"type": "string", "pattern": _DOTTED_PATH},
                "token_header": _TEXT,
                "stop_path": {"type": "string", "pattern": _DOTTED_PATH},
                "size_param": _TEXT,
                "page_size": _PAGE_SIZE,
            },
        },
        "LinkHeader": {"properties": {"rel": _TEXT, "size_param": _TEXT, "page_size": _PAGE_SIZE}},
    }
)

SELECTOR = {
    "type": "object",
    "properties": {"path": {"type": "string", "pattern": r"^$|" + _DOTTED_PATH}},
    "additionalProperties": False,
}

INCREMENTAL = {
    "type": "object",
    "required": ["cursor_field", "since_param"],
    "properties": {
        "cursor_field": {"type": "string", "pattern": _DOTTED_PATH},
        "since_param": _TEXT,
        "since_value": _TEXT,
        "sorted": {"type": "boolean"},
    },
    "additionalProperties": False,
}

_REQUEST = {
    "path": _TEXT,
    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
    "params": _STRINGS,
    "headers": _STRINGS,
    "body": True,
}

STREAM = {
    "type": "object",
    "required": ["path"],
    "properties": {
        **_REQUEST,
        "selector": SELECTOR,
        "paginator": PAGINATOR,
        "incremental": INCREMENTAL,
    },
    "additionalProperties": False,
}

RESULTS = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "pattern": r"^$|" + _DOTTED_PATH},
        "index_field": _TEXT,
        "status_field": _TEXT,
        "ok_values": {"type": "array", "items": {"type": ["string", "number", "boolean"]}, "minItems": 1},
        "error_field": _TEXT,
        "id_field": _TEXT,
    },
    "additionalProperties": False,
}

WRITER = _typed(
    {
        "RecordWriter": {
            "properties": {**_REQUEST, "key_field": _TEXT, "id_path": {"type": "string"}},
            "required": ["path"],
        },
        "BatchWriter": {
            "properties": {
                **_REQUEST,
                "key_field": _TEXT,
                "batch_field": _TEXT,
                "results": RESULTS,
            },
            "required": ["path", "results"],
        },
    }
)

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Shelfsync connector manifest",
    "type": "object",
    "required": ["version", "key", "name", "kind", "config_schema", "requester", "check"],
    "properties": {
        "version": {"const": MANIFEST_VERSION},
        "key": {"type": "string", "pattern": r"^[a-z][a-z0-9\-]{1,62}$"},
        "name": _TEXT,
        "description": {"type": "string"},
        "kind": {"enum": [k.value for k in Kind]},
        "config_schema": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": "object"}},
        },
        "auth": AUTH,
        "rate_limit": {
            "type": "object",
            "required": ["rate", "burst"],
            "properties": {
                "rate": {"type": "number", "exclusiveMinimum": 0},
                "burst": {"type": "integer", "minimum": 1},
            },
            "additionalProperties": False,
        },
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 10000},
        "requester": {
            "type": "object",
            "required": ["url_base"],
            "properties": {"url_base": _TEXT, "headers": _STRINGS, "params": _STRINGS},
            "additionalProperties": False,
        },
        "check": {
            "type": "object",
            "properties": {"stream": {"enum": [d.value for d in Domain]}, **_REQUEST},
            "additionalProperties": False,
            "oneOf": [{"required": ["stream"]}, {"required": ["path"]}],
        },
        "streams": {
            "type": "object",
            "propertyNames": {"enum": [d.value for d in Domain]},
            "additionalProperties": STREAM,
        },
        "writers": {
            "type": "object",
            "propertyNames": {"enum": [d.value for d in Domain]},
            "additionalProperties": WRITER,
        },
    },
    "additionalProperties": False,
}


def manifest_problems(manifest: Mapping[str, Any]) -> list[ConfigProblem]:
    """Every (path, reason) where ``manifest`` breaks the schema, sorted by path; empty when valid."""
    return config_problems(MANIFEST_SCHEMA, manifest)
