"""Server-side portal sessions in Redis that leave Redis alone for visitors without a session.

Litestar's stock backend deletes the (absent) session and sets a null cookie on every response that
has no session; that makes every anonymous page depend on Redis. Here an anonymous visitor with no
session cookie costs no Redis call, so pages that need no session keep working while Redis is away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message, ScopeSession


class LazySessionBackend(ServerSideSessionBackend):
    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        has_cookie = self.config.key in connection.cookies
        if (scope_session is Empty or not scope_session) and not has_cookie:
            return
        await super().store_in_message(scope_session, message, connection)


@dataclass
class LazySessionConfig(ServerSideSessionConfig):
    _backend_class = LazySessionBackend
