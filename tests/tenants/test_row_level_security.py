"""PostgreSQL itself keeps tenants apart: queries without a tenant filter still see only their scope."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.database.engine import Database
from app.database.scope import DbScope
from app.mail.service import queue_mail
from tenants.audit import Actor, record_audit
from tests import factories
from tests.factories import World

TENANT_OWNED = ("api_keys", "outbox", "audit_log", "outbound_mail", "memberships")


async def _seed_tenant_rows(db: Database, world: World) -> None:
    """One row per tenant-owned table for every tenant."""
    for tenant in (world.tenant_a1, world.tenant_a2, world.tenant_b1):
        await factories.make_api_key(db, tenant, ["tenant:read"])
        async with db.transaction(DbScope.system()) as session:
            await queue_mail(
                session,
                to_address="x@example.com",
                from_name="n",
                subject="s",
                body="b",
                tenant_id=tenant.id,
            )
            await record_audit(
                session,
                Actor("system", None),
                action="test",
                target_type="t",
                target_id=None,
                tenant_id=tenant.id,
            )


async def _tenant_ids_in(db: Database, scope: DbScope, table: str) -> set[uuid.UUID]:
    async with db.transaction(scope) as session:
        rows = (await session.execute(text(f"SELECT * FROM {table}"))).mappings().all()
    return {row["tenant_id"] for row in rows if row["tenant_id"] is not None}


class TestTenantScope:
    @pytest.mark.parametrize("table", TENANT_OWNED)
    async def test_unfiltered_select_sees_only_own_tenant(
        self, db: Database, world: World, table: str
    ) -> None:
        await _seed_tenant_rows(db, world)
        everything = await _tenant_ids_in(db, DbScope.system(), table)
        assert {world.tenant_a1.id, world.tenant_b1.id} <= everything  # the rows exist
        seen = await _tenant_ids_in(db, DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id), table)
        assert seen == {world.tenant_a1.id}

    async def test_tenants_table_shows_only_itself(self, db: Database, world: World) -> None:
        async with db.transaction(DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id)) as session:
            ids = set((await session.execute(text("SELECT id FROM tenants"))).scalars())
        assert ids == {world.tenant_a1.id}

    async def test_cannot_insert_into_another_tenant(self, db: Database, world: World) -> None:
        with pytest.raises(DBAPIError, match="row-level security"):
            async with db.transaction(DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id)) as session:
                await record_audit(
                    session,
                    Actor("system", None),
                    action="x",
                    target_type="t",
                    target_id=None,
                    tenant_id=world.tenant_b1.id,
                )

    async def test_cannot_update_another_tenants_rows(self, db: Database, world: World) -> None:
        await _seed_tenant_rows(db, world)
        async with db.transaction(DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id)) as session:
            result = await session.execute(text("UPDATE api_keys SET name = 'stolen'"))
        assert result.rowcount == 1  # type: ignore[attr-defined]  # only its own key
        async with db.transaction(DbScope.system()) as session:
            rows = (await session.execute(text("SELECT tenant_id, name FROM api_keys"))).all()
            names: dict[uuid.UUID, str] = {row[0]: row[1] for row in rows}
        assert names[world.tenant_b1.id] == "key"


class TestPartnerScope:
    async def test_partner_sees_only_its_tenants(self, db: Database, world: World) -> None:
        await _seed_tenant_rows(db, world)
        scope = DbScope("partner", partner_id=world.partner_a.id)
        async with db.transaction(scope) as session:
            tenants = set((await session.execute(text("SELECT id FROM tenants"))).scalars())
        assert tenants == {world.tenant_a1.id, world.tenant_a2.id}
        assert await _tenant_ids_in(db, scope, "api_keys") == {
            world.tenant_a1.id,
            world.tenant_a2.id,
        }

    async def test_partner_cannot_change_another_partners_branding(self, db: Database, world: World) -> None:
        async with db.transaction(DbScope("partner", partner_id=world.partner_a.id)) as session:
            result = await session.execute(text("UPDATE partners SET name = 'hijacked'"))
        assert result.rowcount == 1  # type: ignore[attr-defined]
        async with db.transaction(DbScope.system()) as session:
            names = set((await session.execute(text("SELECT name FROM partners"))).scalars())
        assert names == {"hijacked", "Beta Systems"}


class TestReadOnlyScope:
    async def test_viewer_scope_cannot_write(self, db: Database, world: World) -> None:
        scope = DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id, read_only=True)
        with pytest.raises(DBAPIError, match="row-level security"):
            async with db.transaction(scope) as session:
                await record_audit(
                    session,
                    Actor("user", None),
                    action="x",
                    target_type="t",
                    target_id=None,
                    tenant_id=world.tenant_a1.id,
                )
        await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        async with db.transaction(scope) as session:
            assert (await session.execute(text("SELECT count(*) FROM api_keys"))).scalar_one() == 1
            result = await session.execute(text("DELETE FROM api_keys"))
        assert result.rowcount == 0  # type: ignore[attr-defined]


class TestAnonymousScope:
    @pytest.mark.parametrize("table", [*TENANT_OWNED, "tenants", "users", "password_reset_tokens"])
    async def test_sees_nothing_tenant_owned(self, db: Database, world: World, table: str) -> None:
        await _seed_tenant_rows(db, world)
        async with db.transaction(DbScope.anonymous()) as session:
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        assert count == 0


class TestAppRole:
    async def test_app_role_is_not_owner_and_cannot_bypass(self, db: Database) -> None:
        async with db.transaction(DbScope.system()) as session:
            row: Any = (
                await session.execute(
                    text(
                        "SELECT current_user, r.rolsuper, r.rolbypassrls FROM pg_roles r"
                        " WHERE r.rolname = current_user"
                    )
                )
            ).one()
            owners = set(
                (
                    await session.execute(
                        text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
            unsecured = set(
                (
                    await session.execute(
                        text(
                            "SELECT relname FROM pg_class WHERE relkind = 'r'"
                            " AND relnamespace = 'public'::regnamespace"
                            " AND NOT relrowsecurity AND relname <> 'alembic_version'"
                        )
                    )
                ).scalars()
            )
        assert row.current_user == "shelfsync_app"
        assert not row.rolsuper
        assert not row.rolbypassrls
        assert "shelfsync_app" not in owners
        assert unsecured == set()  # every table has row-level security on

    async def test_scope_does_not_leak_between_transactions(self, db: Database, world: World) -> None:
        await _seed_tenant_rows(db, world)
        async with (
            db.session(DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id)) as session,
            session.begin(),
        ):
            pass
            # a new session on a (possibly) reused pooled connection without a scope sees nothing
        async with db.sessionmaker() as bare, bare.begin():
            count = (await bare.execute(text("SELECT count(*) FROM api_keys"))).scalar_one()
        assert count == 0


class TestNoSelfPromotion:
    async def test_tenant_scope_cannot_grant_platform_or_partner_roles(
        self, db: Database, world: World
    ) -> None:
        admin = world.users["retailer_admin_a1"]
        scope = DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id, admin.id)
        for role, partner, tenant in (
            ("platform_admin", None, None),
            ("partner_admin", world.partner_a.id, None),
            ("retailer_admin", world.partner_b.id, world.tenant_b1.id),
        ):
            with pytest.raises(DBAPIError, match="row-level security"):
                async with db.transaction(scope) as session:
                    await session.execute(
                        text(
                            "INSERT INTO memberships (id, user_id, role, partner_id, tenant_id)"
                            " VALUES (gen_random_uuid(), :user, :role, :partner, :tenant)"
                        ),
                        {"user": admin.id, "role": role, "partner": partner, "tenant": tenant},
                    )

    async def test_user_cannot_rewrite_own_membership_into_platform_admin(
        self, db: Database, world: World
    ) -> None:
        viewer = world.users["retailer_viewer_a1"]
        async with db.transaction(DbScope("user", user_id=viewer.id)) as session:
            result = await session.execute(text("UPDATE memberships SET role = 'retailer_admin'"))
        assert result.rowcount == 0  # type: ignore[attr-defined]

    async def test_partner_scope_can_grant_retailer_roles_of_its_tenants(
        self, db: Database, world: World
    ) -> None:
        operator = world.users["partner_operator_a"]
        admin = world.users["partner_admin_a"]
        async with db.transaction(
            DbScope("partner", partner_id=world.partner_a.id, user_id=admin.id)
        ) as session:
            await session.execute(
                text(
                    "INSERT INTO memberships (id, user_id, role, partner_id, tenant_id)"
                    " VALUES (gen_random_uuid(), :user, 'retailer_viewer', :partner, :tenant)"
                ),
                {"user": operator.id, "partner": world.partner_a.id, "tenant": world.tenant_a2.id},
            )

    async def test_partner_scope_cannot_promote_itself_or_reach_other_partners(
        self, db: Database, world: World
    ) -> None:
        operator = world.users["partner_operator_a"]
        scope = DbScope("partner", partner_id=world.partner_a.id, user_id=operator.id)
        async with db.transaction(scope) as session:
            result = await session.execute(
                text("UPDATE memberships SET role = 'partner_admin' WHERE user_id = :me"), {"me": operator.id}
            )
        assert result.rowcount == 0  # type: ignore[attr-defined]
        with pytest.raises(DBAPIError, match="row-level security"):
            async with db.transaction(scope) as session:
                await session.execute(
                    text(
                        "INSERT INTO memberships (id, user_id, role, partner_id, tenant_id)"
                        " VALUES (gen_random_uuid(), :user, 'retailer_admin', :partner, :tenant)"
                    ),
                    {
                        "user": world.users["platform"].id,
                        "partner": world.partner_a.id,
                        "tenant": world.tenant_b1.id,
                    },
                )


class TestAuditLogIsAppendOnly:
    @pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"])
    async def test_even_the_platform_cannot_change_it(
        self, db: Database, world: World, statement: str
    ) -> None:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.transaction(DbScope("platform")) as session:
                await session.execute(text(statement))
