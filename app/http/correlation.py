"""Correlation ids: taken from ``X-Correlation-Id`` (or made), bound to every log line, echoed back.

Each request is one unit of work for the logs (``correlation_id``, then ``tenant_id`` once an API key
is authenticated; nothing carries over to the next request) and, with tracing on, a server span that
continues the caller's ``traceparent``. A ``request.finished`` line closes it.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, cast

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind

from app.logging import bind_work, unit_of_work
from app.tracing import ATTRIBUTE_PREFIX, installed_provider, span

log = structlog.get_logger(__name__)

HEADER = "x-correlation-id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
QUIET_PATHS = ("/healthz", "/readyz", "/metrics", "/static/")
"""Probes, scrapes and assets: no ``request.finished`` line for each."""


def correlation_id_of(scope: Scope | dict[str, Any]) -> str:
    value: str = scope.get("state", {}).get("correlation_id", "")
    return value


def bind_request(scope: Scope | dict[str, Any], **fields: uuid.UUID | str | None) -> None:
    """Name who the request acts for on its log lines and span. Kept on the scope as well, because
    Litestar may resolve a dependency in a task of its own, whose context the request's last line
    (written here, in the middleware's task) would never see."""
    scope.setdefault("state", {}).setdefault("log_fields", {}).update(
        {name: value for name, value in fields.items() if value is not None}
    )
    bind_work(**fields)


class CorrelationIdMiddleware:
    """Pure ASGI middleware so it wraps everything, error responses included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER.encode()), "")
        correlation_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[HEADER] = correlation_id
            await send(message)

        started = time.perf_counter()
        method = cast("HTTPScope", scope)["method"]
        route = str(scope.get("path_template") or scope["path"])
        # the caller's trace (``traceparent``), read only when tracing is on
        parent = (
            extract({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
            if installed_provider() is not None
            else None
        )
        with (
            unit_of_work(correlation_id=correlation_id),
            span(
                f"{method} {route}",
                {"http.request.method": method, "http.route": route},
                kind=SpanKind.SERVER,
                parent=parent,
            ) as current,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                bind_work(**scope.get("state", {}).get("log_fields", {}))
                tenant_id = structlog.contextvars.get_contextvars().get("tenant_id")
                if current is not None:
                    current.set_attribute("http.response.status_code", status)
                    if tenant_id is not None:
                        current.set_attribute(ATTRIBUTE_PREFIX + "tenant_id", str(tenant_id))
                if not scope["path"].startswith(QUIET_PATHS):
                    log.info(
                        "request.finished",
                        method=method,
                        route=route,
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    )
