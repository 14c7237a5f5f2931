"""The context a connection's template runs with inside workers: its config and opened secrets, OAuth2
tokens kept with the connection, and the rate limit shared by every worker through Redis."""

from __future__ import annotations

from dataclasses import replace

from redis.asyncio import Redis

from app.connections.models import Connection
from app.connections.service import connector_context, effective_rate_limit
from app.connections.tokens import ConnectionTokenStore
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.ratelimit import RedisTokenBucket
from app.settings import Settings
from connectors.sdk.context import ConnectorContext
from connectors.sdk.template import ConnectorTemplate
from tenants.models import Tenant


def worker_context(
    settings: Settings,
    db: Database,
    redis: Redis,
    box: SecretBox,
    connection: Connection,
    tenant: Tenant,
    template: type[ConnectorTemplate],
    correlation_id: str | None,
) -> ConnectorContext:
    scope = DbScope.for_tenant(tenant.id, tenant.partner_id)
    context = connector_context(
        settings,
        box,
        connection,
        token_store=ConnectionTokenStore(db, redis, box, scope),
        correlation_id=correlation_id,
    )
    limiter = RedisTokenBucket(redis, str(connection.id), effective_rate_limit(connection, template))
    return replace(context, rate_limiter=limiter)
