"""Deleting a tenant. At once, in one transaction: its API keys are revoked, its memberships removed (each
portal request re-reads memberships, so its users' sessions stop reaching it on their next request), the
tenant is marked ``deleting`` (API keys of a tenant that is not active are refused) and the deletion is
audited at partner level, where the entry outlives the tenant. Then a job erases its rows table by table
(children before parents, in chunks), its audit history, the users who belonged nowhere else, the tenant
row, its Redis keys and its files.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.api.rate_limit import KEY_PREFIX as API_RATE_PREFIX
from app.connections.models import Connection
from app.connections.service import tenant_folder
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery import breaker, ratelimit
from app.delivery.jobs import delivering_key
from app.dispatch.fair_queue import tenant_keys as fair_queue_keys
from app.flows.models import FlowDestination
from app.outbox.service import record_work
from app.plans.quotas import EVENTS_KEY
from app.settings import Settings
from app.tenant_data.catalogue import TenantTable, deletion_order, tenant_tables
from app.tenant_data.export import exports_folder
from tenants.api_keys import ApiKey
from tenants.audit import Actor, record_audit
from tenants.models import Membership, Tenant, User

DELETE_TASK = "erase_tenant"
CHUNK_ROWS = 5000
"""Rows deleted per transaction: a big tenant's erasure never holds one huge transaction."""


@dataclass(frozen=True, slots=True)
class DeletionStarted:
    """What the immediate step did."""

    tenant_id: uuid.UUID
    slug: str
    keys_revoked: int
    memberships_removed: int


class AlreadyDeletingError(ValueError):
    """The tenant is already being deleted."""


async def begin_deletion(
    session: AsyncSession, actor: Actor, *, partner_id: uuid.UUID, tenant_id: uuid.UUID, now: datetime
) -> DeletionStarted:
    """The immediate step, in the caller's transaction (system scope: it must see every membership of the
    tenant's users, at any partner, to know which accounts belong nowhere else). ``LookupError`` when the
    partner has no such tenant."""
    tenant = await session.scalar(
        select(Tenant).where(Tenant.id == tenant_id, Tenant.partner_id == partner_id).with_for_update()
    )
    if tenant is None:
        raise LookupError("no such retailer")
    if tenant.status == "deleting":
        raise AlreadyDeletingError(tenant.slug)
    revoked = await session.execute(
        update(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    )
    keys_revoked = len(revoked.all())
    other = aliased(Membership)
    elsewhere = select(other.id).where(
        other.user_id == Membership.user_id, or_(other.tenant_id.is_(None), other.tenant_id != tenant_id)
    )
    sole_users = [
        str(user_id)
        for user_id in await session.scalars(
            select(Membership.user_id).where(Membership.tenant_id == tenant_id, ~elsewhere.exists())
        )
    ]
    removed = await session.execute(
        delete(Membership).where(Membership.tenant_id == tenant_id).returning(Membership.id)
    )
    memberships_removed = len(removed.all())
    tenant.status = "deleting"
    started = DeletionStarted(tenant.id, tenant.slug, keys_revoked, memberships_removed)
    await record_audit(
        session,
        actor,
        action="tenant.deletion_started",
        target_type="tenant",
        target_id=tenant.id,
        partner_id=partner_id,  # no tenant_id: this entry must outlive the tenant's own audit rows
        changes={
            "tenant": {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name},
            "api_keys_revoked": keys_revoked,
            "memberships_removed": memberships_removed,
            "accounts_to_remove": len(sole_users),
        },
    )
    await record_work(
        session,
        DELETE_TASK,
        {"tenant_id": str(tenant.id), "user_ids": sole_users},
        correlation_id=actor.correlation_id,
    )
    return started


@dataclass
class ErasureReport:
    """Rows erased per table (``audit_log`` through the erasure function, ``tenants`` last)."""

    rows: dict[str, int] = field(default_factory=dict)
    users_removed: int = 0


async def _delete_chunk(session: AsyncSession, table: TenantTable, tenant_id: uuid.UUID, limit: int) -> int:
    result = await session.execute(text(table.delete_sql()), {"tenant": tenant_id, "limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def erase_tenant(
    db: Database,
    redis: Redis,
    settings: Settings,
    tenant_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> ErasureReport:
    """Erase a ``deleting`` tenant completely; safe to run again after a failure part way."""
    report = ErasureReport()
    system = DbScope.system()
    async with db.transaction(system) as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is not None and tenant.status != "deleting":
            raise ValueError(f"tenant {tenant_id} is not being deleted")
        partner_id, slug = (tenant.partner_id, tenant.slug) if tenant else (None, None)
        tables = await deletion_order(session, await tenant_tables(session)) if tenant else []
        connection_ids = [
            str(i)
            for i in await session.scalars(select(Connection.id).where(Connection.tenant_id == tenant_id))
        ]
        destination_ids = [
            str(i)
            for i in await session.scalars(
                select(FlowDestination.id).where(FlowDestination.tenant_id == tenant_id)
            )
        ]
        key_ids = [
            str(i) for i in await session.scalars(select(ApiKey.id).where(ApiKey.tenant_id == tenant_id))
        ]
    for table in tables:
        if table.name == "audit_log":
            continue  # append-only for the app role: erased by the owner's function below
        while True:
            async with db.transaction(system) as session:
                erased = await _delete_chunk(session, table, tenant_id, chunk_rows)
            report.rows[table.name] = report.rows.get(table.name, 0) + erased
            if erased < chunk_rows:
                break
    if tenant is not None:
        async with db.transaction(system) as session:
            # rows a job still running added meanwhile go now, in the transaction that removes the tenant
            for table in tables:
                if table.name != "audit_log":
                    late = (
                        await session.execute(text(table.delete_all_sql()), {"tenant": tenant_id})
                    ).rowcount  # type: ignore[attr-defined]
                    report.rows[table.name] = report.rows.get(table.name, 0) + int(late)
            report.rows["audit_log"] = int(
                await session.scalar(
                    text("SELECT shelfsync_erase_tenant_audit(:tenant)"), {"tenant": tenant_id}
                )
                or 0
            )
            if user_ids:
                has_membership = select(Membership.id).where(Membership.user_id == User.id).exists()
                gone = await session.execute(
                    delete(User).where(User.id.in_(user_ids), ~has_membership).returning(User.id)
                )
                report.users_removed = len(gone.all())
            await session.execute(delete(Tenant).where(Tenant.id == tenant_id))
            report.rows["tenants"] = 1
            await record_audit(
                session,
                Actor("system", "tenant-erasure"),
                action="tenant.erased",
                target_type="tenant",
                target_id=tenant_id,
                partner_id=partner_id,
                changes={
                    "tenant": {"id": str(tenant_id), "slug": slug},
                    "rows": {name: count for name, count in report.rows.items() if count},
                    "users_removed": report.users_removed,
                },
            )
    await _forget_in_redis(redis, tenant_id, connection_ids, destination_ids, key_ids)
    for folder in (exports_folder(settings, tenant_id), tenant_folder(settings, tenant_id)):
        shutil.rmtree(folder, ignore_errors=True)
    return report


async def _forget_in_redis(
    redis: Redis,
    tenant_id: uuid.UUID,
    connection_ids: list[str],
    destination_ids: list[str],
    key_ids: list[str],
) -> None:
    """The tenant's keys: named by the tenant (its fair-queue lanes, its month's event counts), by its
    connections and destinations, and by its API keys (their request budgets)."""
    keys = (
        [
            *fair_queue_keys(str(tenant_id)),
            *[key async for key in redis.scan_iter(match=f"{EVENTS_KEY}{tenant_id}:*")],
            *(f"{API_RATE_PREFIX}{key_id}" for key_id in key_ids),
        ]
        + [
            key
            for connection_id in connection_ids
            for key in (
                f"{ratelimit.KEY_PREFIX}{connection_id}",
                f"{breaker.KEY_PREFIX}{connection_id}",
                f"{breaker.KEY_PREFIX}{connection_id}:probe",
                f"shelfsync:oauth-refresh:{connection_id}",
            )
        ]
        + [delivering_key(destination_id) for destination_id in destination_ids]
    )
    if keys:
        await redis.delete(*keys)
