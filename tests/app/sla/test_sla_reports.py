"""SLA reports: a seeded month measured from raw facts matches the hand-computed figures, through the
API (JSON, CSV, PDF) and the monthly invoice it credits."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.invoicing.jobs import issue_invoices
from app.invoicing.models import RetailerInvoice
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.app.sla.seeded_month import (
    EXPECTED_CREDIT,
    EXPECTED_INVOICE,
    EXPECTED_OBJECTIVES,
    JUNE,
    seed_june,
)
from tests.factories import World


async def june_report(client: AsyncTestClient[Any], key: str, **params: str) -> Any:
    return await client.get(
        "/api/v1/sla-reports", params={"period": "2026-06", **params}, headers=bearer(key)
    )


class TestSlaReport:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get("/api/v1/sla-reports"), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], db: Database, world: World) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["flows:read"])
        assert_problem(await june_report(client, key), 403, "missing-scope")

    async def test_bad_period(self, client: AsyncTestClient[Any], db: Database, world: World) -> None:
        key = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        body = assert_problem(await june_report(client, key, period="June"), 422, "validation-failed")
        assert body["errors"] == [{"path": "period", "reason": "write YYYY-MM"}]

    async def test_seeded_month_matches_the_hand_computed_figures(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        await seed_june(client, world, db)
        clock.set(JUNE + timedelta(days=45))
        key = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        response = await june_report(client, key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["plan"], body["final"]) == ("gold", True)
        measured = [
            (o["objective"], round(o["measured"], 2), o["samples"], o["breached"], o["credit_percent"])
            for o in body["objectives"]
        ]
        assert measured == EXPECTED_OBJECTIVES
        assert body["credit_percent"] == EXPECTED_CREDIT

    async def test_other_tenant_sees_only_its_own_facts(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        await seed_june(client, world, db)
        clock.set(JUNE + timedelta(days=45))
        key = await factories.make_api_key(db, world.tenant_a2, ["usage:read"])
        body = (await june_report(client, key)).json()
        # a2 is on the default plan; its one June run delivered 100 and lost 900
        assert body["plan"] == "standard"
        rates = {o["objective"]: (o["measured"], o["samples"]) for o in body["objectives"]}
        assert rates["success_rate"] == (10.0, 1000)
        assert rates["promotions_on_time"] == (None, 0)

    async def test_a_month_in_progress_is_measured_so_far(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        await seed_june(client, world, db)
        clock.set(JUNE + timedelta(days=10))  # before the 120 s run of 21 June
        key = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        body = (await june_report(client, key)).json()
        assert body["final"] is False
        latency = body["objectives"][0]
        assert (latency["samples"], latency["breached"]) == (900, False)

    async def test_csv_and_pdf_downloads_are_branded(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        await seed_june(client, world, db)
        clock.set(JUNE + timedelta(days=45))
        key = await factories.make_api_key(db, world.tenant_a1, ["usage:read"])
        as_csv = await june_report(client, key, format="csv")
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in as_csv.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(as_csv.text)))
        assert rows[0] == ["partner", world.partner_a.name]
        table = {row[0]: row for row in rows if row and row[0] in {o[0] for o in EXPECTED_OBJECTIVES}}
        assert table["promotions_on_time"][4:8] == ["75.0", "4", "yes", "10.0"]
        assert rows[-1] == ["total_credit_percent", "12.0"]
        as_pdf = await june_report(client, key, format="pdf")
        assert as_pdf.status_code == 200
        assert as_pdf.headers["content-type"] == "application/pdf"
        assert as_pdf.content.startswith(b"%PDF-")
        assert world.partner_a.name.encode() in as_pdf.content  # the document's author: the partner


class TestMonthlyInvoice:
    async def test_the_closed_month_is_invoiced_once_with_its_credit(
        self, client: AsyncTestClient[Any], db: Database, world: World, clock: FrozenClock
    ) -> None:
        await seed_june(client, world, db)
        clock.set(JUNE + timedelta(days=30, hours=1))  # 1 July
        ctx = {"db": db, "clock": clock}
        issued = await issue_invoices(ctx)
        assert issued == 3  # every active retailer of the world gets June's invoice
        assert await issue_invoices(ctx) == 0
        async with db.transaction(DbScope.system()) as session:
            invoice = await session.scalar(
                select(RetailerInvoice).where(
                    RetailerInvoice.tenant_id == world.tenant_a1.id, RetailerInvoice.period == "2026-06"
                )
            )
        assert invoice is not None
        figures = {"subtotal": invoice.subtotal, "credit": invoice.credit, "total": invoice.total}
        assert figures == {k: Decimal(v) for k, v in EXPECTED_INVOICE.items()}
        assert invoice.usage["records_synced"] == 5950
        by_kind = {line["kind"]: line for line in invoice.lines}
        assert by_kind["records_synced"]["billable"] == 4950
        assert [t["amount"] for t in by_kind["records_synced"]["tiers"]] == ["20.00", "14.75"]
        assert by_kind["sla_credit"]["amount"] == "-17.65"


@pytest.mark.parametrize(
    ("terms", "path"),
    [
        ({"name": "x", "objectives": [{"key": "uptime", "target": 1}]}, "objectives[0].key"),
        ({"name": "x", "objectives": [{"key": "success_rate", "target": 120}]}, "objectives[0].target"),
        ({"name": "x", "rate_card": {"currency": "EUX"}}, "rate_card.currency"),
        (
            {
                "name": "x",
                "rate_card": {
                    "meters": [
                        {
                            "meter": "api_calls",
                            "tiers": [{"up_to": None, "unit_price": "1"}, {"up_to": 5, "unit_price": "1"}],
                        }
                    ]
                },
            },
            "rate_card.meters[0].tiers[0].up_to",
        ),
        ({"name": "x", "rate_card": {"meters": [{"meter": "beans"}]}}, "rate_card.meters[0].meter"),
        ({"name": "x", "quotas": {"api_requests_per_second": 0}}, "quotas.api_requests_per_second"),
        ({"name": "x", "quotas": {"concurrency": 0}}, "quotas.concurrency"),
        ({"name": "x", "quotas": {"connections": {"soft": 9, "hard": 5}}}, "quotas.connections.soft"),
        ({"name": "x", "quotas": {"events_per_month": {"hard": 0}}}, "quotas.events_per_month.hard"),
    ],
)
def test_plan_terms_name_the_path_of_each_problem(terms: dict[str, Any], path: str) -> None:
    from app.plans.terms import TermsError, parse_terms

    with pytest.raises(TermsError) as caught:
        parse_terms(terms)
    assert path in [e["path"] for e in caught.value.errors]
