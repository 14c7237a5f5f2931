"""Where OAuth2 tokens live between calls, and how refreshes are made single-flight.

The platform stores tokens with the connection's encrypted secrets and takes a Redis lock per
connection, so one worker refreshes while the others wait for and reuse its token (DESIGN §4).
``LocalTokenStore`` does the same within one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol


class TokenStore(Protocol):
    async def load(self, key: str) -> dict[str, Any] | None: ...

    async def save(self, key: str, token: dict[str, Any]) -> None: ...

    async def mark_needs_reauthorisation(self, key: str, reason: str) -> None: ...

    def single_flight(self, key: str) -> AbstractAsyncContextManager[None]: ...


class LocalTokenStore:
    def __init__(self) -> None:
        self._tokens: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.needs_reauthorisation: dict[str, str] = {}

    async def load(self, key: str) -> dict[str, Any] | None:
        return self._tokens.get(key)

    async def save(self, key: str, token: dict[str, Any]) -> None:
        self._tokens[key] = dict(token)

    async def mark_needs_reauthorisation(self, key: str, reason: str) -> None:
        self.needs_reauthorisation[key] = reason

    @asynccontextmanager
    async def single_flight(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield
