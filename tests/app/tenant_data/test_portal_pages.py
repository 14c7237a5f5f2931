"""The portal's export pages (retailer admins and partner staff) and the partner admin's retailer deletion."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.settings import Settings
from app.tenant_data.deletion import DELETE_TASK
from app.tenant_data.export import EXPORT_TASK
from app.tenant_data.jobs import delete_tenant, export_tenant
from app.tenant_data.models import TenantExport
from tenants.audit import AuditEntry
from tenants.models import Tenant
from tenants.roles import Role
from tests import factories
from tests.app.api.calls import bearer
from tests.app.portal.forms import sign_in, submit
from tests.app.tenant_data.conftest import job_ctx, run_outbox
from tests.factories import PASSWORD, World


@pytest.fixture
def ctx(settings: Settings, db: Database, redis: Redis, clock: FrozenClock) -> dict[str, Any]:
    """The worker's context with the app's own settings: the portal serves the files the job writes."""
    return job_ctx(settings, db, redis, clock)


def _export_id(response: Any) -> uuid.UUID:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/exports/([0-9a-f-]{36})", response.headers["location"])
    assert match
    return uuid.UUID(match.group(1))


class TestExportPages:
    async def test_anonymous_is_sent_to_sign_in(self, alpha: AsyncTestClient[Any]) -> None:
        for path in ("/exports", f"/exports/{uuid.uuid4()}/progress", f"/exports/{uuid.uuid4()}/download"):
            response = await alpha.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"] == "/login"

    async def test_admin_exports_watches_progress_and_downloads(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, ctx: dict[str, Any]
    ) -> None:
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        assert 'href="/exports"' in (await alpha.get("/")).text
        export_id = _export_id(await submit(alpha, "/exports", "/exports", {"tenant": ""}))

        page = await alpha.get(f"/exports/{export_id}")
        assert page.status_code == 200
        assert 'data-status="queued"' in page.text
        assert f'hx-get="/exports/{export_id}/progress"' in page.text
        assert "export-download" not in page.text

        assert (await run_outbox(db, ctx, EXPORT_TASK, export_tenant))[0].startswith("exported")

        progress = await alpha.get(f"/exports/{export_id}/progress")
        assert progress.status_code == 200
        assert 'data-status="done"' in progress.text
        assert "hx-trigger" not in progress.text  # polling stops once finished
        assert "(100 %)" in progress.text
        download = await alpha.get(f"/exports/{export_id}/download")
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            tenant = json.loads(archive.read("tenants.jsonl"))
            manifest = json.loads(archive.read("manifest.json"))
        assert tenant["id"] == str(world.tenant_a1.id)
        assert manifest["tables"]["memberships"] == 2
        listing = await alpha.get("/exports")
        assert f"/exports/{export_id}" in listing.text

    async def test_viewer_may_not_export(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, "viewer@a1.example", PASSWORD)
        assert (await alpha.get("/exports")).status_code == 403
        assert (await submit(alpha, "/", "/exports", {"tenant": ""})).status_code == 403
        async with db.transaction(DbScope.system()) as session:
            assert (
                await session.scalar(
                    select(AuditEntry.id).where(AuditEntry.action == "tenant.export_requested")
                )
                is None
            )

    async def test_another_retailers_admin_finds_no_export(
        self,
        alpha: AsyncTestClient[Any],
        world: World,
        db: Database,
        ctx: dict[str, Any],
    ) -> None:
        await factories.make_user(db, Role.RETAILER_ADMIN, tenant=world.tenant_a2, email="admin@a2.example")
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        export_id = _export_id(await submit(alpha, "/exports", "/exports", {"tenant": ""}))
        await run_outbox(db, ctx, EXPORT_TASK, export_tenant)
        await sign_in(alpha, "admin@a2.example", PASSWORD)
        for path in (
            f"/exports/{export_id}",
            f"/exports/{export_id}/progress",
            f"/exports/{export_id}/download",
        ):
            assert (await alpha.get(path)).status_code == 404, path
        # naming a1 in the form changes nothing: an admin exports only its own retailer
        own = _export_id(await submit(alpha, "/exports", "/exports", {"tenant": str(world.tenant_a1.id)}))
        async with db.transaction(DbScope.system()) as session:
            row = await session.get(TenantExport, own)
        assert row is not None
        assert row.tenant_id == world.tenant_a2.id

    async def test_partner_staff_export_their_retailers_only(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, ctx: dict[str, Any]
    ) -> None:
        await sign_in(alpha, "operator@alpha.example", PASSWORD)
        retailers = await alpha.get("/partner/retailers")
        assert f"/exports?tenant={world.tenant_a1.id}" in retailers.text
        assert "/delete" not in retailers.text  # operators do not delete
        assert (await alpha.get(f"/exports?tenant={world.tenant_a1.id}")).status_code == 200
        export_id = _export_id(
            await submit(
                alpha,
                f"/exports?tenant={world.tenant_a1.id}",
                "/exports",
                {"tenant": str(world.tenant_a1.id)},
            )
        )
        await run_outbox(db, ctx, EXPORT_TASK, export_tenant)
        assert (await alpha.get(f"/exports/{export_id}/download")).status_code == 200
        assert (await alpha.get(f"/exports?tenant={world.tenant_b1.id}")).status_code == 404
        refused = await submit(
            alpha, f"/exports?tenant={world.tenant_a1.id}", "/exports", {"tenant": str(world.tenant_b1.id)}
        )
        assert refused.status_code == 404


class TestRetailerDeletionPage:
    async def test_only_a_partner_admin_deletes(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        path = f"/partner/retailers/{world.tenant_a1.id}/delete"
        await sign_in(alpha, "operator@alpha.example", PASSWORD)
        assert (await alpha.get(path)).status_code == 403
        assert (await submit(alpha, "/partner/retailers", path, {"confirm_slug": "a1"})).status_code == 403
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        assert (await alpha.get(path)).status_code == 403
        assert (await submit(alpha, "/keys", path, {"confirm_slug": "a1"})).status_code == 403
        async with db.transaction(DbScope.system()) as session:
            tenant = await session.get(Tenant, world.tenant_a1.id)
        assert tenant is not None
        assert tenant.status == "active"

    async def test_a_wrong_slug_deletes_nothing(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, "admin@alpha.example", PASSWORD)
        path = f"/partner/retailers/{world.tenant_a1.id}/delete"
        response = await submit(alpha, path, path, {"confirm_slug": "a2"})
        assert response.status_code == 400
        assert "Type the retailer" in response.text
        async with db.transaction(DbScope.system()) as session:
            tenant = await session.get(Tenant, world.tenant_a1.id)
        assert tenant is not None
        assert tenant.status == "active"
        other = f"/partner/retailers/{world.tenant_b1.id}/delete"
        assert (await alpha.get(other)).status_code == 404

    async def test_deleting_cuts_keys_and_sessions_at_once_then_erases(
        self,
        alpha: AsyncTestClient[Any],
        world: World,
        db: Database,
        ctx: dict[str, Any],
    ) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["tenant:read"])
        assert (await alpha.get("/api/v1/tenant", headers=bearer(key))).status_code == 200
        # the retailer admin's session, kept aside while the partner admin signs in in the same browser
        await sign_in(alpha, "admin@a1.example", PASSWORD)
        assert (await alpha.get("/keys")).status_code == 200
        retailer_session = alpha.cookies.get("session")
        assert retailer_session
        await sign_in(alpha, "admin@alpha.example", PASSWORD)
        partner_session = alpha.cookies.get("session")
        path = f"/partner/retailers/{world.tenant_a1.id}/delete"
        assert "Type <code>a1</code>" in (await alpha.get(path)).text

        response = await submit(alpha, path, path, {"confirm_slug": "a1"})

        assert response.status_code == 303
        assert response.headers["location"] == "/partner/retailers"
        assert (await alpha.get("/api/v1/tenant", headers=bearer(key))).status_code == 401
        alpha.cookies.clear()
        alpha.cookies.set("session", retailer_session, domain="alpha.localhost")
        cut = await alpha.get("/keys", follow_redirects=False)
        assert cut.status_code == 303
        assert cut.headers["location"] == "/login"
        alpha.cookies.clear()
        alpha.cookies.set("session", partner_session or "", domain="alpha.localhost")
        assert "being deleted" in (await alpha.get("/partner/retailers")).text
        assert (await submit(alpha, "/partner/retailers", path, {"confirm_slug": "a1"})).status_code == 400
        assert (await run_outbox(db, ctx, DELETE_TASK, delete_tenant))[0].startswith("erased")
        async with db.transaction(DbScope.system()) as session:
            assert await session.get(Tenant, world.tenant_a1.id) is None
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "tenant.deletion_started")
            )
        assert entry is not None
        assert entry.actor_id == str(world.users["partner_admin_a"].id)
        assert (entry.tenant_id, entry.partner_id) == (None, world.partner_a.id)
        assert entry.changes["tenant"]["slug"] == "a1"
        assert (await alpha.get(path)).status_code == 404
