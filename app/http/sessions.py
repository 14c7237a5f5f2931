"""Server-side portal sessions in Redis.

Two changes to Litestar's stock backend:
- a visitor with no session cookie and no session costs no Redis call (the stock backend deletes the
  absent session and sets a null cookie on every response), so pages that need no session keep
  working while Redis is away;
- ``renew_session`` gives a request a fresh session id and drops the old one, which sign-in uses so a
  session id planted before sign-in (session fixation) is worthless after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

_RENEWED_ID = "renewed_session_id"


def renew_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Store this request's session under a new id (call before ``set_session`` at sign-in)."""
    connection.scope.setdefault("state", {})[_RENEWED_ID] = None


class LazySessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope.get("state", {})
        if _RENEWED_ID in state:
            if state[_RENEWED_ID] is None:
                state[_RENEWED_ID] = self.generate_session_id()
            renewed: str = state[_RENEWED_ID]
            return renewed
        return super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        old_id = connection.cookies.get(self.config.key)
        if (scope_session is Empty or not scope_session) and not old_id:
            return
        if _RENEWED_ID in connection.scope.get("state", {}) and old_id and old_id != "null":
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


@dataclass
class LazySessionConfig(ServerSideSessionConfig):
    _backend_class = LazySessionBackend
