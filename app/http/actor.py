"""The audit actor of an HTTP request: who, from which address, under which correlation id."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection

from app.http.correlation import correlation_id_of
from tenants.audit import Actor


def request_actor(
    connection: ASGIConnection[Any, Any, Any, Any], actor_type: str, actor_id: uuid.UUID | str | None
) -> Actor:
    return Actor(
        actor_type,
        actor_id,
        ip=connection.client.host if connection.client else None,
        correlation_id=correlation_id_of(connection.scope),
    )
