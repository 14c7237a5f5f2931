"""Deleting a tenant: keys and sessions cut at once, then no row of it anywhere in the schema."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.clock import FrozenClock
from app.connections.service import tenant_folder
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.models import OutboxMessage
from app.settings import Settings
from app.tenant_data.deletion import DELETE_TASK, begin_deletion
from app.tenant_data.export import exports_folder
from app.tenant_data.jobs import delete_tenant
from tenants.api_keys import ApiKey
from tenants.audit import Actor, AuditEntry
from tenants.models import Membership, Tenant, User
from tenants.roles import Role
from tests import factories
from tests.app.api.calls import bearer
from tests.app.tenant_data.conftest import job_ctx, seed_world, tenant_rows
from tests.factories import World

# Every relation of the schema with a tenant_id column, partitions included, so nothing hides in one.
EVERY_TENANT_COLUMN = text(
    """
    SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    """
)


async def rows_anywhere(owner: Any, tenant_id: uuid.UUID) -> dict[str, int]:
    """Rows naming the tenant in any table of the schema, read as the owner (no RLS)."""
    found: dict[str, int] = {}
    async with owner.connect() as connection:
        tables = (await connection.execute(EVERY_TENANT_COLUMN)).scalars().all()
        for table in [*tables, "tenants"]:
            column = "id" if table == "tenants" else "tenant_id"
            count = await connection.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE {column} = :t'),
                {"t": tenant_id},
            )
            if count:
                found[table] = int(count)
    return found


async def start_deletion(db: Database, world: World, clock: FrozenClock) -> int:
    async with db.transaction(DbScope.system()) as session:
        await begin_deletion(
            session,
            Actor("user", world.users["partner_admin_a"].id),
            partner_id=world.partner_a.id,
            tenant_id=world.tenant_a1.id,
            now=clock.now(),
        )
        outbox_id = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.task == DELETE_TASK))
    assert outbox_id is not None
    return outbox_id


class TestDeleteTenant:
    async def test_nothing_of_the_tenant_is_left_and_the_others_are_untouched(
        self,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        owner: Any,
        redis: Redis,
        settings: Settings,
        clock: FrozenClock,
        tmp_path: Path,
    ) -> None:
        seeded = await seed_world(client, world, db, clock)
        # a user of a1 who also works for a2 keeps the account (and the a2 membership)
        shared = await factories.make_user(
            db, Role.RETAILER_ADMIN, tenant=world.tenant_a1, email="both@x.example"
        )
        async with db.transaction(DbScope.system()) as session:
            session.add(
                Membership(
                    user_id=shared.id,
                    role="retailer_viewer",
                    partner_id=world.partner_a.id,
                    tenant_id=world.tenant_a2.id,
                )
            )
            connection_id = await session.scalar(
                text("SELECT id FROM connections WHERE tenant_id = :t LIMIT 1"), {"t": world.tenant_a1.id}
            )
        local = dataclasses.replace(settings, data_dir=tmp_path, file_root=tmp_path / "files")
        for folder in (exports_folder(local, world.tenant_a1.id), tenant_folder(local, world.tenant_a1.id)):
            folder.mkdir(parents=True)
            (folder / "some.file").write_text("x")
        await redis.set(f"shelfsync:rate:{connection_id}", "1")
        tenant_a1 = str(world.tenant_a1.id)
        await redis.set(f"shelfsync:quota:events:{tenant_a1}:2026-12", "5")  # keys named by the tenant
        await redis.set(f"shelfsync:fair:cap:{tenant_a1}", "4")
        await redis.rpush(f"shelfsync:fair:bulk:queue:{tenant_a1}", "outbox:1")  # type: ignore[misc]
        async with db.transaction(DbScope.system()) as session:
            key_ids = list(
                await session.scalars(select(ApiKey.id).where(ApiKey.tenant_id == world.tenant_a1.id))
            )
        for key_id in key_ids:  # each key's request budget
            await redis.hset(f"shelfsync:api-rate:{key_id}", "tokens", "1")  # type: ignore[misc]
        before_a2 = await tenant_rows(owner, world.tenant_a2.id)
        before_b1 = await tenant_rows(owner, world.tenant_b1.id)
        assert (await rows_anywhere(owner, world.tenant_a1.id)).keys() >= {
            "stock_levels",
            "audit_log",
            "api_keys",
        }

        outbox_id = await start_deletion(db, world, clock)

        # at once: the tenant's keys no longer open the API
        refused = await client.get("/api/v1/tenant", headers=bearer(seeded["a1"].key))
        assert refused.status_code == 401

        outcome = await delete_tenant(job_ctx(local, db, redis, clock), outbox_id)

        assert outcome.startswith("erased")
        assert await rows_anywhere(owner, world.tenant_a1.id) == {}
        assert await tenant_rows(owner, world.tenant_a2.id) == before_a2
        assert await tenant_rows(owner, world.tenant_b1.id) == before_b1
        async with db.transaction(DbScope.system()) as session:
            emails = set(await session.scalars(select(User.email)))
            kept = list(
                await session.scalars(select(Membership.tenant_id).where(Membership.user_id == shared.id))
            )
            audit = list(
                await session.scalars(
                    select(AuditEntry).where(
                        AuditEntry.action.in_(["tenant.deletion_started", "tenant.erased"])
                    )
                )
            )
        assert not {"admin@a1.example", "viewer@a1.example"} & emails
        assert "both@x.example" in emails
        assert kept == [world.tenant_a2.id]
        assert [(a.action, a.tenant_id, a.partner_id) for a in audit] == [
            ("tenant.deletion_started", None, world.partner_a.id),
            ("tenant.erased", None, world.partner_a.id),
        ]
        assert audit[0].actor_id == str(world.users["partner_admin_a"].id)
        assert audit[0].changes["tenant"]["slug"] == "a1"
        assert audit[0].changes["api_keys_revoked"] == 2
        assert await redis.exists(f"shelfsync:rate:{connection_id}") == 0
        left = [key async for key in redis.scan_iter() if tenant_a1.encode() in key]
        assert left == []
        assert not any([await redis.exists(f"shelfsync:api-rate:{key_id}") for key_id in key_ids])
        assert not exports_folder(local, world.tenant_a1.id).exists()
        assert not tenant_folder(local, world.tenant_a1.id).exists()

    async def test_the_audit_log_stays_append_only_for_tenants_not_being_deleted(
        self, world: World, db: Database
    ) -> None:
        with pytest.raises(DBAPIError, match="not being deleted"):
            async with db.transaction(DbScope.system()) as session:
                await session.execute(
                    text("SELECT shelfsync_erase_tenant_audit(:t)"), {"t": world.tenant_a2.id}
                )
        with pytest.raises(DBAPIError, match="only the system scope"):
            async with db.transaction(DbScope.for_tenant(world.tenant_a2.id)) as session:
                await session.execute(
                    text("SELECT shelfsync_erase_tenant_audit(:t)"), {"t": world.tenant_a2.id}
                )

    async def test_another_partner_cannot_delete_the_tenant(
        self, world: World, db: Database, clock: FrozenClock
    ) -> None:
        with pytest.raises(LookupError):
            async with db.transaction(DbScope.system()) as session:
                await begin_deletion(
                    session,
                    Actor("user", world.users["partner_admin_b"].id),
                    partner_id=world.partner_b.id,
                    tenant_id=world.tenant_a1.id,
                    now=clock.now(),
                )
        async with db.transaction(DbScope.system()) as session:
            tenant = await session.get(Tenant, world.tenant_a1.id)
        assert tenant is not None
        assert tenant.status == "active"
