"""Reading a connection's records back, made canonical through its template's default inbound recipe:
reconciliation compares them with the canonical state, promotion deployments verify what they wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from app.connections.models import Connection
from app.connections.runtime import worker_context
from app.connections.service import choice_of
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.settings import Settings
from connectors.recipes import CompiledRecipe, compile_recipe, default_recipe
from connectors.sdk.domains import Domain
from connectors.sdk.errors import ConnectorError
from connectors.sdk.template import ConnectorTemplate
from tenants.models import Tenant


class CannotReadBackError(ConnectorError):
    """The template cannot read this domain, or ships no inbound recipe for it."""


async def read_canonical(
    settings: Settings,
    db: Database,
    redis: Redis,
    tenant: Tenant,
    connection_id: Any,
    domain: str,
    correlation_id: str | None,
) -> list[Any]:
    """The connection's records for ``domain`` (a full read), made canonical."""
    async with db.transaction(DbScope.system()) as session:
        connection = await session.get(Connection, connection_id)
        assert connection is not None
        template_class = (await choice_of(session, connection, tenant.partner_id)).template
    return await read_records(settings, db, redis, tenant, connection, template_class, domain, correlation_id)


async def read_records(
    settings: Settings,
    db: Database,
    redis: Redis,
    tenant: Tenant,
    connection: Connection,
    template_class: type[ConnectorTemplate],
    domain: str,
    correlation_id: str | None,
    *,
    written: bool = False,
) -> list[Any]:
    """``read_canonical`` for a connection already loaded. ``written``: what the destination holds of
    what was written to it (``read_back``: a store-file drop's outbound files) instead of a full read."""
    spec = default_recipe(template_class.key, domain, "inbound")
    if spec is None or Domain(domain) not in template_class.reads:
        raise CannotReadBackError(f"{template_class.name} cannot read {domain} back")
    recipe = compile_recipe(spec)
    box = SecretBox.from_settings(settings)
    context = worker_context(settings, db, redis, box, connection, tenant, template_class, correlation_id)
    found: list[Any] = []
    async with template_class(context) as template:
        pages = template.read_back(Domain(domain)) if written else template.read(Domain(domain))
        async for page in pages:
            # mapping thousands of records is CPU work: off the event loop, as the template's reads are
            found += await asyncio.to_thread(_canonical, recipe, page.records)
    return found


def _canonical(recipe: CompiledRecipe, records: Sequence[Any]) -> list[Any]:
    return [m.record for m in recipe.map_many(records) if m.record is not None]
