"""Everything a connector instance gets from whoever runs it: config, secrets, limiter, clock, network."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.sdk.network import NetworkPolicy
from connectors.sdk.ratelimit import RateLimiter
from connectors.sdk.tokens import LocalTokenStore, TokenStore


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConnectorContext:
    """``key`` names the connection (its id) for rate limits and token caching."""

    config: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(default_factory=dict)
    key: str = "connection"
    rate_limiter: RateLimiter | None = None
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    token_store: TokenStore = field(default_factory=LocalTokenStore)
    now: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    correlation_id: str | None = None
    max_attempts: int = 3
    """Attempts per remote call for 429 and 5xx before the error reaches the engine's own retries."""
    max_retry_wait: float | None = None
    """The longest ``Retry-After`` waited out inside a call; a longer one raises ``RateLimitError`` at
    once, for the caller to schedule the retry (a delivery holds a lease while it waits). None: any."""
    transport: httpx.AsyncBaseTransport | None = None
    """Tests may pass a transport; production leaves it unset."""
