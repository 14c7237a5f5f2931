"""OAuth2 tokens of a connection: kept with its sealed secrets, refreshed single-flight across workers.

One worker takes a Redis lock per connection and refreshes; the others wait on the lock, then find the
fresh token in PostgreSQL and reuse it (DESIGN §4). A refused refresh marks the connection
``needs_reauthorisation`` so nobody retries it until a person grants access again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from app.connections.models import Connection
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope

TOKEN_SECRET = "oauth_token"  # noqa: S105 - the name of the secret, not a secret
LOCK_SECONDS = 30


class ConnectionTokenStore:
    def __init__(self, db: Database, redis: Redis, box: SecretBox, scope: DbScope) -> None:
        self._db, self._redis, self._box, self._scope = db, redis, box, scope

    async def _row(self, session: Any, key: str) -> Connection:
        row = await session.get(Connection, uuid.UUID(key), with_for_update=True)
        if row is None:
            raise LookupError(f"connection {key} is gone")
        assert isinstance(row, Connection)
        return row

    def _secrets(self, row: Connection) -> dict[str, Any]:
        return self._box.open_json(row.secrets_sealed, row.sealing_context) if row.secrets_sealed else {}

    async def load(self, key: str) -> dict[str, Any] | None:
        async with self._db.transaction(self._scope) as session:
            token = self._secrets(await self._row(session, key)).get(TOKEN_SECRET)
        return dict(token) if isinstance(token, dict) else None

    async def save(self, key: str, token: dict[str, Any]) -> None:
        async with self._db.transaction(self._scope) as session:
            row = await self._row(session, key)
            secrets = self._secrets(row) | {TOKEN_SECRET: token}
            row.secrets_sealed = self._box.seal_json(secrets, row.sealing_context)

    async def mark_needs_reauthorisation(self, key: str, reason: str) -> None:
        async with self._db.transaction(self._scope) as session:
            row = await self._row(session, key)
            row.status = "needs_reauthorisation"
            row.status_reason = reason

    @asynccontextmanager
    async def single_flight(self, key: str) -> AsyncIterator[None]:
        lock = self._redis.lock(
            f"shelfsync:oauth-refresh:{key}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS + 5
        )
        async with lock:
            yield
