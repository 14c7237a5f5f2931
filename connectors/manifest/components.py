"""The components a manifest is built from: small dataclasses chosen by ``type:``, built once from the
validated YAML by ``load_manifest``, which reports every problem as (path, reason) before any request.

Each component's docstring shows its YAML. Templated strings are compiled here (see ``interpolation``),
so a manifest that loads can only fail at render time on a value that is missing from the config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

import httpx
import yaml

from connectors.manifest.interpolation import (
    Interpolated,
    InterpolationError,
    Tree,
    interpolate_tree,
    leaves,
    render_tree,
)
from connectors.manifest.schema import manifest_problems
from connectors.sdk.auth import ApiKeyAuth, AuthKind, BearerAuth, OAuth2Auth, OAuth2Settings
from connectors.sdk.built_cache import BuiltCache
from connectors.sdk.config import check_schema, secret_fields
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import ConfigError, PermanentError
from connectors.sdk.ratelimit import RateLimit

BASE_VARIABLES = frozenset({"config", "secrets", "now"})
STREAM_VARIABLES = BASE_VARIABLES | {"cursor", "page"}
WRITER_VARIABLES = BASE_VARIABLES | {"record"}
MAX_PAGES = 100_000
"""A guard against a remote that hands back the same next page forever."""


class ManifestError(ConfigError):
    """The manifest is invalid; ``problems`` lists every (path, reason)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        listed = "; ".join(f"{path}: {reason}" for path, reason in problems)
        super().__init__(f"invalid manifest: {listed}", problems)


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted path (``meta.next_cursor``, ``data.0.sku``); None when absent."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _render(value: Interpolated | str, variables: Mapping[str, Any]) -> str:
    return str(value.render(variables)) if isinstance(value, Interpolated) else value


# --- requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Requester:
    """One HTTP request; the manifest's ``requester`` gives the base URL and shared headers/params,
    each stream, writer or check adds its own path, method, params, headers and body.

    ```yaml
    requester:
      url_base: "{{ config.base_url }}"
      headers: {Accept: application/json}
    streams:
      items:
        path: /page/items
        params: {status: active}
    ```
    """

    path: Interpolated | str
    method: str = "GET"
    headers: Tree = field(default_factory=dict)
    params: Tree = field(default_factory=dict)
    body: Tree = None
    type: Literal["Requester"] = "Requester"

    def render(self, variables: Mapping[str, Any]) -> RenderedRequest:
        params = {k: str(v) for k, v in render_tree(self.params, variables).items() if v is not None}
        headers = {k: str(v) for k, v in render_tree(self.headers, variables).items() if v is not None}
        return RenderedRequest(
            method=self.method,
            path=_render(self.path, variables),
            params=params,
            headers=headers,
            body=render_tree(self.body, variables),
        )


# --- auth --------------------------------------------------------------------------------------------


class AuthSpec(Protocol):
    @property
    def kind(self) -> AuthKind: ...

    def build(self, variables: Mapping[str, Any], context: ConnectorContext) -> httpx.Auth | None: ...


@dataclass(frozen=True)
class NoAuth:
    """```yaml
    auth: {type: none}
    ```"""

    type: Literal["none"] = "none"

    @property
    def kind(self) -> AuthKind:
        return "none"

    def build(self, variables: Mapping[str, Any], context: ConnectorContext) -> httpx.Auth | None:
        return None


@dataclass(frozen=True)
class ApiKey:
    """A key in a header (default ``X-Api-Key``) or, with ``query:``, in the query string.

    ```yaml
    auth: {type: api_key, header: X-Api-Key, key: "{{ secrets.api_key }}"}
    ```
    """

    key: Interpolated | str
    header: str | None = "X-Api-Key"
    query: str | None = None
    type: Literal["api_key"] = "api_key"

    @property
    def kind(self) -> AuthKind:
        return "api_key"

    def build(self, variables: Mapping[str, Any], context: ConnectorContext) -> httpx.Auth | None:
        return ApiKeyAuth(_render(self.key, variables), header=self.header, query=self.query)


@dataclass(frozen=True)
class Basic:
    """```yaml
    auth: {type: basic, username: "{{ config.username }}", password: "{{ secrets.password }}"}
    ```"""

    username: Interpolated | str
    password: Interpolated | str
    type: Literal["basic"] = "basic"

    @property
    def kind(self) -> AuthKind:
        return "basic"

    def build(self, variables: Mapping[str, Any], context: ConnectorContext) -> httpx.Auth | None:
        return httpx.BasicAuth(_render(self.username, variables), _render(self.password, variables))


@dataclass(frozen=True)
class Bearer:
    """```yaml
    auth: {type: bearer, token: "{{ secrets.token }}"}
    ```"""

    token: Interpolated | str
    scheme: str = "Bearer"
    type: Literal["bearer"] = "bearer"

    @property
    def kind(self) -> AuthKind:
        return "bearer"

    def build(self, variables: Mapping[str, Any], context: ConnectorContext) -> httpx.Auth | None:
        return BearerAuth(_render(self.token, variables), scheme=self.scheme)


@dataclass(frozen=True)
class OAuth2:
    """OAuth2 through ``connectors.sdk.auth.OAuth2Auth``: tokens cached in the context's token store,
    refreshed single-flight; a refused refresh marks the connection as needing re-authorisation.

    ```yaml
    auth:
      type: oauth2_client_credentials      # or oauth2_authorization_code (with authorize_url)
      token_url: "{{ config.token_url }}"
      client_id: "{{ config.client_id }}"
      client_secret: "{{ secrets.client_secret }}"
      scope: catalog
    ```
    """

    token_url: Interpolated | str
    client_id: Interpolated | str
    client_secret: Interpolated | str
    scope: Interpolated | str | None = None
    authorize_url: Interpolated | str | None = None
    type: Literal["oauth2_client_credentials", "oauth2_authorization_code"] = "oauth2_client_credentials"

    @property
    def kind(self) -> AuthKind:
        return self.type

    def settings(self, variables: Mapping[str, Any]) -> OAuth2Settings:
        return OAuth2Settings(
            token_url=_render(self.token_url, variables),
            client_id=_render(self.client_id, variables),
            client_secret=_render(self.client_secret, variables),
            grant="client_credentials" if self.type == "oauth2_client_credentials" else "authorization_code",
            scope=_render(self.scope, variables) if self.scope is not None else None,
            authorize_url=_render(self.authorize_url, variables) if self.authorize_url is not None else None,
        )

    def build(self, variables: Mapping[str, Any], context: ConnectorContext) -> httpx.Auth | None:
        return OAuth2Auth(
            self.settings(variables),
            store=context.token_store,
            key=context.key,
            now=lambda: context.now().timestamp(),
            transport=context.transport,
            network=context.network,
        )


# --- pagination --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """What a paginator adds to a request: query params, or a whole URL given by the remote."""

    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None


class Paginator(Protocol):
    def first(self) -> Any:
        """The token of the first page (None when the first request carries no page parameter)."""

    def request(self, token: Any) -> PageRequest: ...

    def next(self, response: httpx.Response, body: Any, records: list[dict[str, Any]], token: Any) -> Any:
        """The next page's token, or None when this was the last page."""


@dataclass(frozen=True)
class NoPagination:
    """One request, one page.

    ```yaml
    paginator: {type: NoPagination}
    ```
    """

    type: Literal["NoPagination"] = "NoPagination"

    def first(self) -> Any:
        return None

    def request(self, token: Any) -> PageRequest:
        return PageRequest()

    def next(self, response: httpx.Response, body: Any, records: list[dict[str, Any]], token: Any) -> Any:
        return None


@dataclass(frozen=True)
class PageIncrement:
    """``?page=1&per_page=50``, then 2, 3…; a page shorter than ``page_size`` is the last.

    ```yaml
    paginator: {type: PageIncrement, page_param: page, size_param: per_page, page_size: 50, start_page: 1}
    ```
    """

    page_param: str = "page"
    size_param: str | None = "per_page"
    page_size: int = 50
    start_page: int = 1
    type: Literal["PageIncrement"] = "PageIncrement"

    def first(self) -> Any:
        return self.start_page

    def request(self, token: Any) -> PageRequest:
        params = {self.page_param: str(token)}
        if self.size_param:
            params[self.size_param] = str(self.page_size)
        return PageRequest(params)

    def next(self, response: httpx.Response, body: Any, records: list[dict[str, Any]], token: Any) -> Any:
        return None if len(records) < self.page_size else int(token) + 1


@dataclass(frozen=True)
class OffsetIncrement:
    """``?offset=0&limit=50``, then 50, 100…; a page shorter than ``page_size`` is the last.

    ```yaml
    paginator: {type: OffsetIncrement, offset_param: offset, limit_param: limit, page_size: 50}
    ```
    """

    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = 50
    type: Literal["OffsetIncrement"] = "OffsetIncrement"

    def first(self) -> Any:
        return 0

    def request(self, token: Any) -> PageRequest:
        return PageRequest({self.offset_param: str(token), self.limit_param: str(self.page_size)})

    def next(self, response: httpx.Response, body: Any, records: list[dict[str, Any]], token: Any) -> Any:
        return None if len(records) < self.page_size else int(token) + len(records)


@dataclass(frozen=True)
class CursorPagination:
    """An opaque token from the response body (``token_path``) or a header (``token_header``), sent
    back as ``cursor_param``. Stops when the token is missing or empty, when ``stop_path`` is falsy
    (``has_more: false``), or when the remote repeats the token it was given.

    ```yaml
    paginator:
      type: CursorPagination
      cursor_param: cursor
      token_path: meta.next_cursor     # or token_header: X-Next-Cursor
      stop_path: meta.has_more
      size_param: limit
      page_size: 100
    ```
    """

    cursor_param: str = "cursor"
    token_path: str | None = None
    token_header: str | None = None
    stop_path: str | None = None
    size_param: str | None = None
    page_size: int = 50
    type: Literal["CursorPagination"] = "CursorPagination"

    def first(self) -> Any:
        return None

    def request(self, token: Any) -> PageRequest:
        params = {self.size_param: str(self.page_size)} if self.size_param else {}
        if token is not None:
            params[self.cursor_param] = str(token)
        return PageRequest(params)

    def next(self, response: httpx.Response, body: Any, records: list[dict[str, Any]], token: Any) -> Any:
        if self.stop_path is not None and not value_at(body, self.stop_path):
            return None
        if self.token_header:
            found: Any = response.headers.get(self.token_header)
        else:
            found = value_at(body, self.token_path or "next_cursor")
        if found in (None, "") or found == token:
            return None
        return found


@dataclass(frozen=True)
class LinkHeader:
    """Follows the RFC 8288 ``Link`` header's ``rel="next"`` URL until there is none.

    ```yaml
    paginator: {type: LinkHeader, rel: next, size_param: per_page, page_size: 100}
    ```
    """

    rel: str = "next"
    size_param: str | None = None
    page_size: int = 50
    type: Literal["LinkHeader"] = "LinkHeader"

    def first(self) -> Any:
        return None

    def request(self, token: Any) -> PageRequest:
        if token is not None:
            return PageRequest(url=str(token))  # the remote's URL already carries every parameter
        return PageRequest({self.size_param: str(self.page_size)} if self.size_param else {})

    def next(self, response: httpx.Response, body: Any, records: list[dict[str, Any]], token: Any) -> Any:
        url = response.links.get(self.rel, {}).get("url")
        if not url:
            return None
        absolute = str(response.request.url.join(url))
        return None if absolute == token else absolute


PAGINATORS: dict[str, Callable[..., Paginator]] = {
    "NoPagination": NoPagination,
    "PageIncrement": PageIncrement,
    "OffsetIncrement": OffsetIncrement,
    "CursorPagination": CursorPagination,
    "LinkHeader": LinkHeader,
}


# --- records -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordSelector:
    """Where the records are in a response: a dotted path to a list (empty: the body is the list).

    ```yaml
    selector: {path: data}
    ```
    """

    path: str = ""
    type: Literal["RecordSelector"] = "RecordSelector"

    def select(self, body: Any) -> list[dict[str, Any]]:
        found = value_at(body, self.path)
        if found is None:
            return []
        if isinstance(found, dict):
            return [found]
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            where = f"at {self.path!r}" if self.path else "as the response body"
            raise PermanentError(f"expected a list of objects {where}, got {type(found).__name__}")
        return found


def _cursor_order(value: Any) -> tuple[int, Any]:
    """Numbers compare as numbers, anything else as text (ISO-8601 timestamps sort as text)."""
    if not isinstance(value, bool):
        try:
            return (0, Decimal(str(value)))
        except InvalidOperation:
            pass
    return (1, str(value))


@dataclass(frozen=True)
class Incremental:
    """Reads only what changed since the stored cursor: ``since_param`` carries it (rendered from
    ``since_value``, default ``{{ cursor }}``), and the next cursor is the largest ``cursor_field``
    seen. Unless the remote returns records in cursor order (``sorted: true``), only the last page of
    a read moves the cursor, so a read interrupted midway is resumed from its start.

    ```yaml
    incremental: {cursor_field: updated_at, since_param: updated_since, sorted: false}
    ```
    """

    cursor_field: str
    since_param: str
    since_value: Interpolated | str | None = None
    """How to send the cursor (e.g. ``"{{ cursor[:10] }}"`` for a date-only API); default as stored."""
    sorted: bool = False
    type: Literal["Incremental"] = "Incremental"

    def params(self, variables: Mapping[str, Any]) -> dict[str, str]:
        cursor = variables.get("cursor")
        if cursor is None:
            return {}
        value = cursor if self.since_value is None else _render(self.since_value, variables)
        return {self.since_param: str(value)}

    def latest(self, current: str | None, records: list[dict[str, Any]]) -> str | None:
        values = [v for v in (value_at(r, self.cursor_field) for r in records) if v is not None]
        if current is not None:
            values.append(current)
        return str(max(values, key=_cursor_order)) if values else None


@dataclass(frozen=True)
class Stream:
    """What ``read(domain)`` runs: a request, a paginator, a selector and, optionally, a cursor.

    ```yaml
    streams:
      items:
        path: /page/items
        selector: {path: data}
        paginator: {type: PageIncrement, page_size: 50}
        incremental: {cursor_field: updated_at, since_param: updated_since}
    ```
    """

    domain: Domain
    requester: Requester
    paginator: Paginator
    selector: RecordSelector
    incremental: Incremental | None = None
    type: Literal["Stream"] = "Stream"


# --- writers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultReader:
    """How a batch response reports each record: a list at ``path`` whose entries carry the record's
    index (or are in order), a status, an error and an id.

    ```yaml
    results: {path: results, index_field: index, status_field: status, ok_values: [ok], error_field: error}
    ```
    """

    path: str = "results"
    index_field: str | None = None
    status_field: str = "status"
    ok_values: tuple[Any, ...] = ("ok",)
    error_field: str = "error"
    id_field: str | None = None
    type: Literal["ResultReader"] = "ResultReader"


@dataclass(frozen=True)
class RecordWriter:
    """One call per record; a 4xx fails that record alone, its neighbours still go.

    ```yaml
    writers:
      prices:
        type: RecordWriter
        method: PUT
        path: "/prices/{{ record.sku | path_segment }}"
        body: {amount: "{{ record.amount }}", currency: "{{ record.currency }}"}
        key_field: sku
        id_path: id
    ```
    """

    requester: Requester
    key_field: str = "sku"
    id_path: str | None = None
    type: Literal["RecordWriter"] = "RecordWriter"


@dataclass(frozen=True)
class BatchWriter:
    """One call per batch: each record (shaped by ``body``, default the record itself) goes into a list,
    sent as is or under ``batch_field``; the response's ``results`` say how each record fared.

    ```yaml
    writers:
      inventory:
        type: BatchWriter
        method: POST
        path: /stock/batch
        batch_field: items
        results: {path: results, index_field: index, status_field: status, ok_values: [ok]}
    ```
    """

    requester: Requester
    record_body: Tree
    results: ResultReader
    batch_field: str | None = None
    key_field: str = "sku"
    type: Literal["BatchWriter"] = "BatchWriter"


Writer = RecordWriter | BatchWriter


@dataclass(frozen=True)
class Check:
    """What ``test_connection`` calls: the first page of a stream, or its own request.

    ```yaml
    check: {path: /whoami}      # or: check: {stream: items}
    ```
    """

    stream: Domain | None = None
    requester: Requester | None = None
    type: Literal["Check"] = "Check"


@dataclass(frozen=True)
class Manifest:
    """A whole declarative connector; ``load_manifest`` builds it from YAML or a dict."""

    key: str
    name: str
    kind: Kind
    config_schema: dict[str, Any]
    url_base: Interpolated | str
    base_headers: Tree
    base_params: Tree
    auth: AuthSpec
    check: Check
    streams: dict[Domain, Stream]
    writers: dict[Domain, Writer]
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(rate=10, burst=20))
    batch_size: int = 100
    description: str = ""
    version: int = 1
    source: dict[str, Any] = field(default_factory=dict, repr=False)


# --- loading -----------------------------------------------------------------------------------------


class _Builder:
    """Builds components, collecting every interpolation problem instead of stopping at the first."""

    def __init__(self, config_schema: Mapping[str, Any]) -> None:
        self.problems: list[tuple[str, str]] = []
        properties = config_schema.get("properties", {})
        self._secrets = secret_fields(config_schema)
        self._public = frozenset(properties) - self._secrets
        self._open = config_schema.get("additionalProperties", True) is not False

    def tree(self, value: Any, where: str, allowed: frozenset[str]) -> Tree:
        try:
            compiled = interpolate_tree(value, where, allowed)
        except InterpolationError as error:
            self.problems.extend(error.problems)
            return None
        self._check_references(compiled)
        return compiled

    def text(self, value: str, where: str, allowed: frozenset[str]) -> Interpolated | str:
        compiled = self.tree(value, where, allowed)
        return compiled if isinstance(compiled, Interpolated | str) else value

    def _check_references(self, compiled: Tree) -> None:
        for variable, name, where in sorted(
            (v, n, leaf.where) for leaf in leaves(compiled) for v, n in leaf.references
        ):
            if variable == "secrets" and name not in self._secrets:
                self.problems.append((where, f"secrets.{name} is not a writeOnly property of config_schema"))
            elif variable == "config" and name in self._secrets:
                self.problems.append((where, f"{name} is a secret: use secrets.{name}, not config.{name}"))
            elif variable == "config" and name not in self._public and not self._open:
                self.problems.append((where, f"config.{name} is not a property of config_schema"))

    def requester(self, spec: Mapping[str, Any], where: str, allowed: frozenset[str]) -> Requester:
        return Requester(
            path=self.text(spec["path"], f"{where}.path", allowed),
            method=spec.get("method", "GET"),
            headers=self.tree(dict(spec.get("headers", {})), f"{where}.headers", allowed) or {},
            params=self.tree(dict(spec.get("params", {})), f"{where}.params", allowed) or {},
            body=self.tree(spec.get("body"), f"{where}.body", allowed),
        )

    def auth(self, spec: Mapping[str, Any]) -> AuthSpec:
        kind = spec.get("type", "none")
        # Credentials and URLs may come from config or secrets; header names and schemes are literal.
        templated = {"key", "username", "password", "token", "token_url", "authorize_url", "client_id"}
        templated |= {"client_secret", "scope"}
        fields: dict[str, Any] = {
            k: self.text(v, f"auth.{k}", BASE_VARIABLES) if k in templated else v
            for k, v in spec.items()
            if k != "type"
        }
        if kind == "api_key":
            if "query" in fields:
                fields.setdefault("header", None)
            return ApiKey(**fields)
        if kind == "basic":
            return Basic(**fields)
        if kind == "bearer":
            return Bearer(**fields)
        if kind.startswith("oauth2_"):
            return OAuth2(type=kind, **fields)
        return NoAuth()

    def stream(self, domain: Domain, spec: Mapping[str, Any]) -> Stream:
        where = f"streams.{domain.value}"
        paginator_spec = dict(spec.get("paginator", {"type": "NoPagination"}))
        paginator = PAGINATORS[paginator_spec.pop("type")](**paginator_spec)
        incremental = None
        if "incremental" in spec:
            inc = dict(spec["incremental"])
            if "since_value" in inc:
                inc["since_value"] = self.text(
                    inc["since_value"], f"{where}.incremental.since_value", STREAM_VARIABLES
                )
            incremental = Incremental(**inc)
        return Stream(
            domain=domain,
            requester=self.requester(spec, where, STREAM_VARIABLES),
            paginator=paginator,
            selector=RecordSelector(**spec.get("selector", {})),
            incremental=incremental,
        )

    def writer(self, domain: Domain, spec: Mapping[str, Any]) -> Writer:
        where = f"writers.{domain.value}"
        method = spec.get("method", "PUT" if spec["type"] == "RecordWriter" else "POST")
        if spec["type"] == "RecordWriter":
            return RecordWriter(
                requester=self.requester({**spec, "method": method}, where, WRITER_VARIABLES),
                key_field=spec.get("key_field", "sku"),
                id_path=spec.get("id_path"),
            )
        results = dict(spec["results"])
        if "ok_values" in results:
            results["ok_values"] = tuple(results["ok_values"])
        request_spec = {k: v for k, v in spec.items() if k != "body"}
        return BatchWriter(
            requester=self.requester({**request_spec, "method": method}, where, BASE_VARIABLES),
            record_body=self.tree(spec.get("body"), f"{where}.body", WRITER_VARIABLES),
            results=ResultReader(**results),
            batch_field=spec.get("batch_field"),
            key_field=spec.get("key_field", "sku"),
        )


def parse_manifest_text(source: Mapping[str, Any] | str) -> dict[str, Any]:
    """A manifest as a dict, from YAML text or a mapping; YAML errors become problems."""
    if not isinstance(source, str):
        return dict(source)
    try:
        parsed = yaml.safe_load(source)
    except yaml.YAMLError as error:
        raise ManifestError([("(manifest)", f"not valid YAML: {error}")]) from None
    if not isinstance(parsed, dict):
        raise ManifestError([("(manifest)", "a manifest is a YAML mapping")])
    return parsed


_built: BuiltCache[Manifest] = BuiltCache(256)


def load_manifest(source: Mapping[str, Any] | str) -> Manifest:
    """Validate and build a manifest; ``ManifestError`` lists every problem with its path.

    A manifest already built (the same canonical JSON) is returned as it was built: a worker builds a
    connection's manifest once, not once per batch (validating its config schema costs ~0.15 s)."""
    spec = parse_manifest_text(source)
    return _built.get(json.dumps(spec, sort_keys=True, default=str), lambda: _build_manifest(spec))


def _build_manifest(spec: dict[str, Any]) -> Manifest:
    problems = manifest_problems(spec)
    if problems:
        raise ManifestError(problems)
    try:
        check_schema(spec["config_schema"])
    except ConfigError as error:
        raise ManifestError([("config_schema", error.message)]) from None
    build = _Builder(spec["config_schema"])
    requester = spec["requester"]
    streams = {Domain(d): build.stream(Domain(d), s) for d, s in spec.get("streams", {}).items()}
    writers = {Domain(d): build.writer(Domain(d), s) for d, s in spec.get("writers", {}).items()}
    check_spec = spec["check"]
    if "stream" in check_spec:
        check = Check(stream=Domain(check_spec["stream"]))
        if check.stream not in streams:
            build.problems.append(("check.stream", f"no stream named {check_spec['stream']!r}"))
    else:
        check = Check(requester=build.requester(check_spec, "check", BASE_VARIABLES))
    rate = spec.get("rate_limit")
    manifest = Manifest(
        key=spec["key"],
        name=spec["name"],
        kind=Kind(spec["kind"]),
        description=spec.get("description", ""),
        config_schema=spec["config_schema"],
        url_base=build.text(requester["url_base"], "requester.url_base", BASE_VARIABLES),
        base_headers=build.tree(dict(requester.get("headers", {})), "requester.headers", BASE_VARIABLES),
        base_params=build.tree(dict(requester.get("params", {})), "requester.params", BASE_VARIABLES),
        auth=build.auth(spec.get("auth", {"type": "none"})),
        check=check,
        streams=streams,
        writers=writers,
        rate_limit=RateLimit(rate=rate["rate"], burst=rate["burst"]) if rate else RateLimit(10, 20),
        batch_size=spec.get("batch_size", 100),
        version=spec["version"],
        source=spec,
    )
    if build.problems:
        raise ManifestError(sorted(build.problems))
    return manifest
