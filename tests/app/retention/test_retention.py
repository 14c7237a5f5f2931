"""Retention: each retailer's history older than its plan keeps is deleted, whole months no plan keeps
are dropped, usage figures of those months stay (rolled up), and event dedup holds inside the window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from app.clock import FrozenClock
from app.database import partitions
from app.database.engine import Database
from app.database.partitions import PARTITIONED, month_start, partition_name
from app.database.scope import DbScope
from app.flows.models import Run
from app.ingress.service import ingest
from app.metering.models import UsageEvent, UsageTotal
from app.metering.periods import period_at
from app.metering.service import GAUGE_KIND, usage_between
from app.plans.service import save_plan
from app.plans.terms import DEFAULT_TERMS, PlanTerms, TermsError, parse_terms
from app.retention.jobs import apply_retention
from tenants.models import Tenant
from tests import factories
from tests.app.database.history import add_flow, add_history, history_db, history_settings, mid_month

__all__ = ["history_db", "history_settings"]  # fixtures


async def _on_plan(db: Database, tenant: Tenant, key: str, days: int, now: datetime) -> None:
    terms = PlanTerms(name=key.title(), rate_card=DEFAULT_TERMS.rate_card, retention_days=days)
    async with db.transaction(DbScope.system()) as session:
        await save_plan(session, tenant.partner_id, key, terms, now)
        await session.execute(update(Tenant).where(Tenant.id == tenant.id).values(plan=key))


async def _usage(db: Database, tenant: Tenant, at: datetime) -> dict[str, int]:
    period = period_at(at)
    async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
        return await usage_between(session, tenant.id, period.starts_at, period.ends_at)


async def _runs_before(db: Database, tenant: Tenant, at: datetime) -> int:
    async with db.transaction(DbScope.system()) as session:
        found = await session.scalar(
            select(func.count()).where(Run.tenant_id == tenant.id, Run.started_at < at).select_from(Run)
        )
    return int(found or 0)


async def _ingest_item(db: Database, tenant: Tenant, sku: str, at: datetime) -> tuple[int, int]:
    async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
        outcome = await ingest(
            session, tenant.id, "items", [{"sku": sku, "title": "t", "source_id": sku}], now=at
        )
    return outcome.accepted, outcome.duplicate


class TestApplyRetention:
    async def test_deletes_per_plan_drops_old_months_and_keeps_usage_totals(
        self, history_db: Database, clock: FrozenClock
    ) -> None:
        db = history_db
        now = mid_month(clock.now())
        partner = await factories.make_partner(db)
        short, medium = await factories.make_tenant(db, partner), await factories.make_tenant(db, partner)
        await _on_plan(db, short, "short", 30, now)
        await _on_plan(db, medium, "medium", 90, now)
        recent, middle, old = now - timedelta(days=5), now - timedelta(days=45), now - timedelta(days=200)
        for tenant in (short, medium):
            flow_id = await add_flow(db, tenant.id)
            for at in (recent, middle, old):
                await add_history(db, tenant.id, flow_id, at, n=2)
                assert await _ingest_item(db, tenant, f"{tenant.slug}-{at:%Y%m%d}", at) == (1, 0)
        async with db.transaction(DbScope.system()) as session:  # 3 connections since long ago
            await session.execute(
                insert(UsageEvent).values(
                    tenant_id=short.id, kind=GAUGE_KIND, quantity=3, idempotency_key="c", occurred_at=old
                )
            )
        before = {(t.id, at): await _usage(db, t, at) for t in (short, medium) for at in (now, middle, old)}
        assert before[(short.id, old)]["records_synced"] == 20
        assert before[(short.id, now)][GAUGE_KIND] == 3

        clock.set(now)
        result = await apply_retention({"db": db, "clock": clock})

        # the short plan's rows older than 30 days are gone; the medium plan keeps its 45-day-old ones
        assert await _runs_before(db, short, now - timedelta(days=30)) == 0
        assert await _runs_before(db, short, now) == 2
        assert await _runs_before(db, medium, now - timedelta(days=30)) == 2
        assert await _runs_before(db, medium, now - timedelta(days=90)) == 0
        # whole months older than the longest retention (90 days) are dropped, the rest kept
        kept_from = month_start(now - timedelta(days=90))
        for table in PARTITIONED:
            assert partition_name(table, old) in result["dropped"]
            async with db.transaction(DbScope.system()) as session:
                remaining = await partitions.list_partitions(session, table)
            assert remaining[0].starts_at == kept_from
            assert partition_name(table, middle) in {p.name for p in remaining}
        # usage of every month reads as before, though its events are gone (rolled up)
        for (tenant_id, at), figures in before.items():
            tenant = short if tenant_id == short.id else medium
            assert await _usage(db, tenant, at) == figures, (tenant.slug, at)
        async with db.transaction(DbScope.system()) as session:
            old_events = await session.scalar(
                select(func.count())
                .select_from(UsageEvent)
                .where(UsageEvent.occurred_at < now - timedelta(days=30), UsageEvent.tenant_id == short.id)
            )
            totals = await session.scalar(
                select(UsageTotal.quantity).where(
                    UsageTotal.tenant_id == short.id,
                    UsageTotal.period == period_at(old).key,
                    UsageTotal.kind == "records_synced",
                )
            )
        assert old_events == 0
        assert totals == 20

        # an event inside the window is still a duplicate, even sent again in a later month …
        assert await _ingest_item(db, medium, f"{medium.slug}-{middle:%Y%m%d}", now) == (0, 1)
        assert await _ingest_item(db, short, f"{short.slug}-{recent:%Y%m%d}", now) == (0, 1)
        # … one past its retention is forgotten with its event
        assert await _ingest_item(db, short, f"{short.slug}-{middle:%Y%m%d}", now) == (1, 0)

        # a second run the same day finds nothing more to do
        again = await apply_retention({"db": db, "clock": clock})
        assert again["dropped"] == []
        assert set(again["deleted"].values()) == {0}
        for (tenant_id, at), figures in before.items():
            tenant = short if tenant_id == short.id else medium
            assert await _usage(db, tenant, at) == figures


class TestRetentionTerms:
    def test_retention_days_default_and_validation(self) -> None:
        assert parse_terms({"name": "P"}).retention_days == 400
        assert parse_terms({"name": "P", "retention_days": 30}).retention_days == 30
        with pytest.raises(TermsError) as raised:
            parse_terms({"name": "P", "retention_days": 0})
        assert raised.value.errors == [{"path": "retention_days", "reason": "a number of days above 0"}]
