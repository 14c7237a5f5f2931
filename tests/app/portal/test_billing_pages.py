"""Portal pages on what the sync costs: usage with its forecast, the SLA report with its downloads,
invoices (issued and draft, CSV), and the partner's plans editor with retailer assignment."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.invoicing.jobs import issue_invoices
from app.plans.models import Plan
from tenants.audit import AuditEntry
from tenants.models import Tenant
from tests.app.portal.forms import sign_in, submit
from tests.app.sla.seeded_month import EXPECTED_INVOICE, GOLD, JUNE, seed_june
from tests.factories import PASSWORD, World


class TestRetailerPages:
    async def test_usage_sla_and_invoices_of_a_seeded_month(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        await seed_june(alpha, world, db)
        clock.set(JUNE + timedelta(days=30, hours=1))
        await issue_invoices({"db": db, "clock": clock})
        await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)

        usage = await alpha.get("/usage?period=2026-06")
        assert usage.status_code == 200
        assert re.search(r'data-meter="records_synced"><td>records synced</td><td>5,950</td>', usage.text)

        sla = await alpha.get("/sla?period=2026-06")
        assert sla.status_code == 200
        assert re.search(r'data-objective="promotions_on_time">.*?75\.00 %.*?breached', sla.text, re.S)
        assert 'data-testid="sla-credit">12.0 %' in sla.text
        pdf = await alpha.get("/sla/download?period=2026-06&format=pdf")
        assert (pdf.status_code, pdf.content[:5]) == (200, b"%PDF-")
        as_csv = await alpha.get("/sla/download?period=2026-06&format=csv")
        assert next(csv.reader(io.StringIO(as_csv.text))) == ["partner", world.partner_a.name]

        invoices = await alpha.get("/invoices")
        assert 'href="/invoices/2026-06"' in invoices.text
        invoice = await alpha.get("/invoices/2026-06")
        assert f'data-testid="invoice-total">{EXPECTED_INVOICE["total"]}<' in invoice.text
        lines = list(csv.reader(io.StringIO((await alpha.get("/invoices/2026-06/csv")).text)))
        assert lines[-1] == ["2026-06", "total", "", "", "", "", EXPECTED_INVOICE["total"], "EUR"]
        draft = await alpha.get("/invoices/2026-07")
        assert draft.status_code == 200
        assert "draft" in draft.text
        assert (await alpha.get("/invoices/2027-01")).status_code == 404

    async def test_another_retailer_sees_its_own(
        self, alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        await seed_june(alpha, world, db)
        clock.set(JUNE + timedelta(days=30, hours=1))
        await sign_in(alpha, world.users["retailer_viewer_a1"].email, PASSWORD)
        assert (await alpha.get("/usage?period=2026-06")).status_code == 200
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        # partner users act for the partner, not a retailer: retailer pages are not theirs
        assert (await alpha.get("/invoices")).status_code == 404


class TestPlansPage:
    async def test_partner_admin_saves_a_plan_and_assigns_it(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        page = await alpha.get("/partner/plans")
        assert page.status_code == 200
        assert "Standard (standard)" in page.text
        saved = await submit(
            alpha, "/partner/plans", "/partner/plans", {"key": "gold", "terms": json.dumps(GOLD)}
        )
        assert saved.status_code == 303
        assigned = await submit(
            alpha,
            "/partner/plans",
            "/partner/plans/assign",
            {"tenant_id": str(world.tenant_a1.id), "plan": "gold"},
        )
        assert assigned.status_code == 303
        async with db.transaction(DbScope.system()) as session:
            plan = await session.scalar(select(Plan).where(Plan.partner_id == world.partner_a.id))
            tenant = await session.get(Tenant, world.tenant_a1.id)
            actions = set(await session.scalars(select(AuditEntry.action)))
        assert plan is not None
        assert plan.terms["rate_card"]["base_fee"] == "100.00"
        assert tenant is not None
        assert tenant.plan == "gold"
        assert {"plan.saved", "tenant.plan_changed"} <= actions

    async def test_problems_are_named_by_path_and_nothing_is_saved(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        wrong = {**GOLD, "objectives": [{"key": "success_rate", "target": 150}]}
        page = await submit(
            alpha, "/partner/plans", "/partner/plans", {"key": "Gold!", "terms": json.dumps(wrong)}
        )
        assert page.status_code == 422
        assert "<code>key</code>" in page.text
        assert "<code>objectives[0].target</code>" in page.text
        not_json = await submit(alpha, "/partner/plans", "/partner/plans", {"key": "gold", "terms": "{"})
        assert not_json.status_code == 422
        assert "<code>terms</code>: not JSON" in not_json.text
        async with db.transaction(DbScope.system()) as session:
            assert await session.scalar(select(Plan)) is None

    async def test_operators_read_but_do_not_change_and_other_partners_plans_stay_apart(
        self, alpha: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        await sign_in(alpha, world.users["partner_operator_a"].email, PASSWORD)
        assert (await alpha.get("/partner/plans")).status_code == 200
        refused = await submit(
            alpha, "/partner/plans", "/partner/plans", {"key": "gold", "terms": json.dumps(GOLD)}
        )
        assert refused.status_code == 403
        # a retailer of another partner cannot be put on this partner's plan
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        foreign = await submit(
            alpha,
            "/partner/plans",
            "/partner/plans/assign",
            {"tenant_id": str(world.tenant_b1.id), "plan": "standard"},
        )
        assert foreign.status_code == 404
        # and a retailer's scope reads its own partner's plans only (RLS)
        async with db.transaction(DbScope.system()) as session:
            session.add(Plan(partner_id=world.partner_b.id, key="b-only", terms=GOLD))
        async with db.transaction(DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id)) as session:
            assert await session.scalar(select(Plan).where(Plan.key == "b-only")) is None
