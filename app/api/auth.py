"""API key authentication and scope checks for ``/api/v1``.

401 for a missing, malformed, unknown or revoked key; 403 when the key lacks the route's scope; 429 for
an address that sent too many wrong keys, or a key over its plan's request rate
(``app.api.rate_limit``). All are problem documents, and none says which of the reasons applied beyond
what is safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.rate_limit import refuse_over_budget, remember_headers, spend
from app.database.scope import DbScope
from app.http.problems import Problem
from app.http.state import services_of
from app.metering.service import count_api_call
from app.plans.service import quotas_of
from tenants.api_keys import ApiPrincipal, authenticate_api_key

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ApiKeyThrottle:
    """Wrong keys per client address in a fixed window in Redis, shared by every web process: after
    ``limit`` failures the address gets 429 until the window ends, whatever key it sends. Other
    addresses, and the keys they send, are not slowed."""

    redis: Redis
    limit: int = 30
    window_seconds: int = 300

    @staticmethod
    def _key(address: str) -> str:
        return f"shelfsync:api-key-fail:ip:{address}"

    async def retry_after(self, address: str) -> int | None:
        """Seconds until this address may try again, or None when it may now."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(self._key(address))
                pipe.ttl(self._key(address))
                count, ttl = await pipe.execute()
        except RedisError as error:
            # Keys stay usable while Redis is away; guessing 256-bit secrets is hopeless meanwhile anyway.
            log.warning("api.throttle_unavailable", error=str(error))
            return None
        if count is not None and int(count) >= self.limit:
            return max(int(ttl), 1)
        return None

    async def record_failure(self, address: str) -> None:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                # SET NX starts the window once; INCR keeps its expiry.
                pipe.set(self._key(address), 0, ex=self.window_seconds, nx=True)
                pipe.incr(self._key(address))
                await pipe.execute()
        except RedisError as error:
            log.warning("api.throttle_unavailable", error=str(error))


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def api_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiPrincipal:
    """The request's principal, authenticated once per request and cached on the scope."""
    cached = connection.scope.get("state", {}).get("api_principal")
    if cached is not None:
        principal: ApiPrincipal = cached
        return principal
    token = _bearer(connection)
    if token is None:
        raise Problem(
            401,
            "Send an API key as 'Authorization: Bearer <key>'.",
            type_slug="missing-api-key",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    services = services_of(connection)  # type: ignore[arg-type]
    throttle = ApiKeyThrottle(services.redis)
    address = connection.client.host if connection.client else "unknown"
    wait = await throttle.retry_after(address)
    if wait is not None:
        raise Problem(
            429,
            "Too many requests with a wrong API key from this address; retry later.",
            type_slug="too-many-failed-keys",
            headers={"Retry-After": str(wait)},
        )
    now = services.clock.now()
    budget = None
    async with services.db.transaction(DbScope.system()) as session:
        found = await authenticate_api_key(session, token, now)
        if found is not None:
            budget = await spend(services.redis, found.key_id, await quotas_of(session, found.tenant_id))
            if budget is None or budget.taken.is_allowed:
                # metered with the authentication, so a call is counted exactly once (a refused one never)
                await count_api_call(session, found.tenant_id, now)
    if found is None:
        await throttle.record_failure(address)
        log.info("api.key_refused", client=address)
        raise Problem(
            401,
            "The API key is unknown or has been revoked.",
            type_slug="invalid-api-key",
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )
    if budget is not None:
        remember_headers(connection.scope, budget)
        if not budget.taken.is_allowed:
            log.info("api.rate_limited", key_id=str(found.key_id))
            raise refuse_over_budget(budget)
    connection.scope.setdefault("state", {})["api_principal"] = found
    structlog.contextvars.bind_contextvars(tenant_id=str(found.tenant_id))
    return found


def requires_scope(scope: str) -> Any:
    """A guard: the key must carry ``scope``. The route's OpenAPI also lists the scope."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await api_principal(connection)
        if not principal.has_scope(scope):
            raise Problem(
                403,
                f"This API key lacks the '{scope}' scope.",
                type_slug="missing-scope",
                required_scope=scope,
            )

    guard.__name__ = f"requires_{scope.replace(':', '_')}"
    return guard


async def provide_principal(request: Request[Any, Any, Any]) -> ApiPrincipal:
    return await api_principal(request)


async def provide_tenant_session(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """A session in the key's tenant scope; committed when the handler returns without error."""
    principal = await api_principal(request)
    scope = DbScope.for_tenant(principal.tenant_id, principal.partner_id)
    async with services_of(request).db.session(scope) as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
