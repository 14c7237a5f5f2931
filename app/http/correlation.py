"""Correlation ids: taken from ``X-Correlation-Id`` (or made), bound to every log line, echoed back."""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-correlation-id"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def correlation_id_of(scope: Scope | dict[str, Any]) -> str:
    value: str = scope.get("state", {}).get("correlation_id", "")
    return value


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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[HEADER] = correlation_id
            await send(message)

        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            await self.app(scope, receive, send_with_id)
