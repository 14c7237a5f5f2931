"""Each API key's request budget: a token bucket in Redis shared by every web process, sized by the
retailer's plan (``quotas.api_requests_per_second`` and ``quotas.api_burst``).

Every answer under ``/api/v1`` says where the key stands, in the IETF fields
(draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy: "per-key";q=<burst>;w=<seconds to refill>``
and ``RateLimit: "per-key";r=<requests left>;t=<seconds until full>``. Over the budget the request is
refused with 429, ``Retry-After`` and the same fields, before it does any work or is metered.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.http.problems import Problem
from app.plans.terms import Quotas
from app.token_bucket import Taken, TokenBucket

log = structlog.get_logger(__name__)

POLICY = "per-key"
KEY_PREFIX = "shelfsync:api-rate:"
_HEADERS_STATE = "rate_limit_headers"


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """One key's standing after a request: the fields to send, and whether the request may go on."""

    taken: Taken
    bucket: TokenBucket

    @property
    def headers(self) -> dict[str, str]:
        window = max(math.ceil(self.bucket.burst / self.bucket.rate), 1)
        remaining = math.floor(self.taken.tokens)
        reset = (
            self.taken.wait
            if not self.taken.is_allowed
            else self.bucket.seconds_until_full(self.taken.tokens)
        )
        fields = {
            "RateLimit-Policy": f'"{POLICY}";q={int(self.bucket.burst)};w={window}',
            "RateLimit": f'"{POLICY}";r={remaining};t={math.ceil(reset)}',
        }
        if not self.taken.is_allowed:
            fields["Retry-After"] = str(max(math.ceil(self.taken.wait), 1))
        return fields


async def spend(redis: Redis, key_id: uuid.UUID, quotas: Quotas) -> KeyBudget | None:
    """Take one request from the key's bucket; None when Redis cannot say (the request then goes on:
    a Redis outage must not take the API down with it)."""
    bucket = TokenBucket(redis, f"{KEY_PREFIX}{key_id}", quotas.api_requests_per_second, quotas.api_burst)
    try:
        return KeyBudget(await bucket.take(), bucket)
    except RedisError as error:
        log.warning("api.rate_limit_unavailable", error=str(error))
        return None


def refuse_over_budget(budget: KeyBudget) -> Problem:
    return Problem(
        429,
        "This API key has sent more requests than its plan allows; retry after the time given.",
        type_slug="rate-limited",
        headers=budget.headers,
    )


def remember_headers(scope: Scope, budget: KeyBudget) -> None:
    """Keep the fields on the request, for :class:`RateLimitHeaders` to add to the answer."""
    scope.setdefault("state", {})[_HEADERS_STATE] = budget.headers


class RateLimitHeaders:
    """ASGI middleware on the API router: adds the key's rate-limit fields to whatever answer leaves
    (a handler's, or a problem's), unless the answer already carries them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                fields: dict[str, str] | None = scope.get("state", {}).get(_HEADERS_STATE)
                if fields:
                    present = {name.decode().lower() for name, _ in message.get("headers", [])}
                    extra = [
                        (name.encode(), value.encode())
                        for name, value in fields.items()
                        if name.lower() not in present
                    ]
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_fields)
