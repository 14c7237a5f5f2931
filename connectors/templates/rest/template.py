"""``RestTemplate``: any REST/JSON API whose shape fits a form, without writing code.

The connection's config names the endpoints, the auth style and the pagination style; the template
turns it into a manifest (``manifest_from_config``) and hands it to the manifest engine. Config values
are never pasted into templates: the manifest reads them as ``config.*``/``secrets.*`` at render time,
and a write path's ``{field}`` placeholders are checked by pattern before they become templates.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.manifest.components import load_manifest
from connectors.manifest.template import ManifestRunner
from connectors.sdk.auth import AuthKind
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import PermanentError
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate

_PATH = r"^/([A-Za-z0-9_\-.~/]|\{[a-z_][a-z0-9_]*\})*$"
"""A URL path whose only placeholders are ``{field}`` (record fields); no Jinja can get through."""
_DOTTED = r"^$|^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

_READ = {
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "pattern": _PATH, "description": "e.g. /page/items"},
        "records_path": {
            "type": "string",
            "pattern": _DOTTED,
            "description": "Where the list is; empty: the body",
        },
    },
}
_WRITE = {
    "type": "object",
    "required": ["path"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "pattern": _PATH, "description": "e.g. /prices/{sku} or /stock/batch"},
        "method": {"enum": ["POST", "PUT", "PATCH"]},
        "mode": {"enum": ["per_record", "batch"], "description": "One call per record, or one per batch"},
        "batch_field": {"type": "string", "description": "Batch mode: the body is {batch_field: [...]}"},
        "results_path": {"type": "string", "pattern": _DOTTED, "description": "Batch mode: per-item results"},
        "index_field": {"type": "string"},
        "status_field": {"type": "string"},
        "ok_value": {"type": "string"},
        "error_field": {"type": "string"},
        "id_field": {"type": "string"},
    },
}


def _requires(field: str, value: str, required: list[str], *, is_default: bool = False) -> dict[str, Any]:
    """``required`` when ``field`` is ``value``; an absent field counts only for the default value."""
    condition: dict[str, Any] = {"properties": {field: {"const": value}}}
    if not is_default:
        condition["required"] = [field]
    return {"if": condition, "then": {"required": required}}


CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["base_url"],
    "additionalProperties": False,
    "properties": {
        "base_url": {
            "type": "string",
            "format": "uri",
            "pattern": "^https?://",
            "description": "Root of the API",
        },
        "auth_style": {
            "enum": ["none", "api_key", "basic", "bearer", "oauth2_client_credentials"],
            "default": "api_key",
        },
        "api_key_header": {"type": "string", "default": "X-Api-Key"},
        "api_key": {"type": "string", "minLength": 1, "writeOnly": True},
        "username": {"type": "string"},
        "password": {"type": "string", "writeOnly": True},
        "token": {"type": "string", "writeOnly": True},
        "token_url": {"type": "string", "format": "uri", "pattern": "^https?://"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "writeOnly": True},
        "scope": {"type": "string"},
        "pagination": {"enum": ["none", "page", "offset", "cursor", "link"], "default": "page"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
        "next_cursor_path": {"type": "string", "pattern": _DOTTED, "default": "meta.next_cursor"},
        "cursor_field": {"type": "string", "pattern": _DOTTED, "default": "updated_at"},
        "since_param": {"type": "string", "default": "updated_since"},
        "check_path": {"type": "string", "pattern": _PATH, "default": "/whoami"},
        "reads": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"items": _READ, "prices": _READ, "inventory": _READ},
            "default": {},
        },
        "writes": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"prices": _WRITE, "inventory": _WRITE, "orders": _WRITE},
            "default": {},
        },
    },
    "allOf": [
        _requires("auth_style", "api_key", ["api_key"], is_default=True),
        _requires("auth_style", "basic", ["username", "password"]),
        _requires("auth_style", "bearer", ["token"]),
        _requires("auth_style", "oauth2_client_credentials", ["token_url", "client_id", "client_secret"]),
    ],
}


def _auth(config: Mapping[str, Any]) -> dict[str, Any]:
    style = config.get("auth_style", "api_key")
    if style == "api_key":
        return {
            "type": "api_key",
            "header": config.get("api_key_header", "X-Api-Key"),
            "key": "{{ secrets.api_key }}",
        }
    if style == "basic":
        return {"type": "basic", "username": "{{ config.username }}", "password": "{{ secrets.password }}"}
    if style == "bearer":
        return {"type": "bearer", "token": "{{ secrets.token }}"}
    if style == "oauth2_client_credentials":
        auth = {
            "type": style,
            "token_url": "{{ config.token_url }}",
            "client_id": "{{ config.client_id }}",
            "client_secret": "{{ secrets.client_secret }}",
        }
        return {**auth, "scope": "{{ config.scope }}"} if config.get("scope") else auth
    return {"type": "none"}


def _paginator(config: Mapping[str, Any]) -> dict[str, Any]:
    size = config.get("page_size", 50)
    style = config.get("pagination", "page")
    if style == "page":
        return {"type": "PageIncrement", "page_param": "page", "size_param": "per_page", "page_size": size}
    if style == "offset":
        return {
            "type": "OffsetIncrement",
            "offset_param": "offset",
            "limit_param": "limit",
            "page_size": size,
        }
    if style == "cursor":
        path = config.get("next_cursor_path", "meta.next_cursor")
        return {"type": "CursorPagination", "token_path": path, "size_param": "limit", "page_size": size}
    if style == "link":
        return {"type": "LinkHeader", "size_param": "per_page", "page_size": size}
    return {"type": "NoPagination"}


def _record_path(path: str) -> str:
    """``/prices/{sku}`` → ``/prices/{{ record.sku | path_segment }}`` (the pattern allowed nothing else)."""
    return _PLACEHOLDER.sub(lambda m: "{{ record." + m[1] + " | path_segment }}", path)


def _writer(spec: Mapping[str, Any]) -> dict[str, Any]:
    if spec.get("mode", "per_record") == "per_record":
        return {
            "type": "RecordWriter",
            "method": spec.get("method", "PUT"),
            "path": _record_path(spec["path"]),
        }
    results = {
        "path": spec.get("results_path", "results"),
        "index_field": spec.get("index_field", "index"),
        "status_field": spec.get("status_field", "status"),
        "ok_values": [spec.get("ok_value", "ok")],
        "error_field": spec.get("error_field", "error"),
    }
    if "id_field" in spec:
        results["id_field"] = spec["id_field"]
    writer: dict[str, Any] = {
        "type": "BatchWriter",
        "method": spec.get("method", "POST"),
        "path": spec["path"],
    }
    if "batch_field" in spec:
        writer["batch_field"] = spec["batch_field"]
    return {**writer, "results": results}


def manifest_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest a validated ``RestTemplate`` config describes."""
    incremental = {"cursor_field": config.get("cursor_field", "updated_at")}
    incremental["since_param"] = config.get("since_param", "updated_since")
    streams = {
        domain: {
            "path": spec["path"],
            "selector": {"path": spec.get("records_path", "data")},
            "paginator": _paginator(config),
            "incremental": incremental,
        }
        for domain, spec in config.get("reads", {}).items()
    }
    return {
        "version": 1,
        "key": "rest",
        "name": RestTemplate.name,
        "kind": RestTemplate.kind.value,
        "config_schema": CONFIG_SCHEMA,
        "auth": _auth(config),
        "requester": {"url_base": "{{ config.base_url }}", "headers": {"Accept": "application/json"}},
        "check": {"path": config.get("check_path", "/whoami")},
        "streams": streams,
        "writers": {domain: _writer(spec) for domain, spec in config.get("writes", {}).items()},
        "batch_size": RestTemplate.batch_size,
    }


class RestTemplate(ConnectorTemplate):
    """A generic REST/JSON connector configured by a form: endpoints, auth style, pagination style.

    Kind ERP: in retail, the system without a ready-made connector that speaks plain REST/JSON is most
    often the retailer's own back office (an ERP or PIM in front of the product, price and stock data).
    """

    key: ClassVar[str] = "rest"
    name: ClassVar[str] = "Generic REST/JSON"
    kind: ClassVar[Kind] = Kind.ERP
    reads: ClassVar[frozenset[Domain]] = frozenset({Domain.ITEMS, Domain.PRICES, Domain.INVENTORY})
    writes: ClassVar[frozenset[Domain]] = frozenset({Domain.PRICES, Domain.INVENTORY, Domain.ORDERS})
    config_schema: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    auth: ClassVar[tuple[AuthKind, ...]] = ("none", "api_key", "basic", "bearer", "oauth2_client_credentials")
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=5, burst=10)
    batch_size: ClassVar[int] = 100

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.manifest = load_manifest(manifest_from_config(self.settings))
        self.runner = ManifestRunner(self.manifest, context, self.settings)

    async def aclose(self) -> None:
        await self.runner.aclose()

    async def test_connection(self) -> ConnectionCheck:
        return await self.runner.test_connection()

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        if domain not in self.manifest.streams:
            raise PermanentError(
                f"no read endpoint is configured for {domain.value} (config: reads.{domain.value})"
            )
        async for page in self.runner.read(domain, cursor):
            yield page

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        if domain not in self.manifest.writers:
            raise PermanentError(
                f"no write endpoint is configured for {domain.value} (config: writes.{domain.value})"
            )
        return await self.runner.write(domain, payloads)
