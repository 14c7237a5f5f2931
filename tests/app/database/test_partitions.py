"""Monthly partitions: made ahead by the migration and the cron job, one per month and table, and a
query bounded to the last day reads only the current month's partition."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from app.clock import FrozenClock
from app.database import partitions
from app.database.engine import Database
from app.database.partitions import PARTITIONED, add_months, month_start, partition_name
from app.database.scope import DbScope
from app.flows.health import delivery_figures, flow_health
from app.ingress.models import IngressEvent
from app.ingress.service import ingest
from app.metering.models import UsageEvent
from app.metering.periods import period_at
from app.metering.service import SUM_KINDS, usage_between
from app.retention.jobs import ensure_partitions
from tests import factories
from tests.app.database.history import add_flow, add_history, history_db, history_settings, mid_month

__all__ = ["history_db", "history_settings"]  # fixtures


async def _relations_read(session: AsyncSession, statement: ClauseElement) -> set[str]:
    """The tables PostgreSQL's plan for ``statement`` reads (EXPLAIN's ``Relation Name``s)."""
    compiled = statement.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params() or {}
    positional = tuple(params[name] for name in getattr(compiled, "positiontup", None) or [])
    connection = await session.connection()
    result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", positional)
    plan = result.scalar_one()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Relation Name" in node:
                found.add(node["Relation Name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(plan) if isinstance(plan, str) else plan)
    return found


class TestPartitionsAhead:
    async def test_migration_made_each_month_from_a_year_back_to_three_ahead(
        self, db: Database, clock: FrozenClock
    ) -> None:
        now = clock.now()
        async with db.transaction(DbScope.system()) as session:
            for table in PARTITIONED:
                found = await partitions.list_partitions(session, table)
                names = [p.name for p in found]
                assert names == [
                    partition_name(table, add_months(month_start(now), n)) for n in range(-12, 4)
                ]
                # contiguous months, no gaps and no DEFAULT partition
                assert all(a.ends_at == b.starts_at for a, b in itertools.pairwise(found))
                assert found[-1].ends_at == add_months(month_start(now), 4)

    async def test_ensure_is_idempotent_and_follows_the_clock(
        self, history_db: Database, clock: FrozenClock
    ) -> None:
        ctx = {"db": history_db, "clock": clock}
        assert await ensure_partitions(ctx) == 0  # the migration made these months already
        assert await ensure_partitions(ctx) == 0
        later = add_months(month_start(clock.now()), 5) + timedelta(days=3)
        clock.set(later)
        # the month of the clock and three ahead of it (+5 … +8 of the migration's now) are new, per
        # table; +4, a month gone by while no job ran, stays without one (it could only get late rows)
        assert await ensure_partitions(ctx) == 4 * len(PARTITIONED)
        assert await ensure_partitions(ctx) == 0
        async with history_db.transaction(DbScope.system()) as session:
            names = {p.name for p in await partitions.list_partitions(session, "usage_events")}
        assert partition_name("usage_events", add_months(month_start(later), 3)) in names
        # the app role (which owns no table) writes into the new month through the parent
        tenant = await factories.make_tenant(history_db, await factories.make_partner(history_db))
        await add_history(history_db, tenant.id, await add_flow(history_db, tenant.id), later)
        async with history_db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
            used = await usage_between(
                session, tenant.id, month_start(later), add_months(month_start(later), 1)
            )
        assert used["records_synced"] == 10


class TestPruning:
    async def test_dashboard_queries_of_the_last_day_read_this_months_partition_only(
        self, db: Database, clock: FrozenClock
    ) -> None:
        now = mid_month(clock.now())
        partner = await factories.make_partner(db)
        tenant = await factories.make_tenant(db, partner)
        flow_id = await add_flow(db, tenant.id)
        for months_back in range(4):  # rows in this month and the three before it
            at = add_months(month_start(now), -months_back) + timedelta(days=2)
            await add_history(db, tenant.id, flow_id, at, n=3)
            async with db.transaction(DbScope.for_tenant(tenant.id, partner.id)) as session:
                await ingest(session, tenant.id, "items", [{"sku": f"S{months_back}", "title": "t"}], now=at)
        scope = DbScope.for_tenant(tenant.id, partner.id)
        since = now - timedelta(hours=24)
        async with db.transaction(scope) as session:
            # the health page's figures: the runs of the last day …
            assert await _relations_read(session, delivery_figures([tenant.id], since, now)) == {
                partition_name("runs", now)
            }
            # … and they are right: this month's three runs, not the others
            health = await flow_health(session, [tenant.id], now, window=timedelta(days=20))
            assert [h.runs for h in health] == [3]
            # the last day's events
            events = select(func.count()).where(
                IngressEvent.tenant_id == tenant.id,
                IngressEvent.received_at >= since,
                IngressEvent.received_at <= now,
            )
            assert await _relations_read(session, events) == {partition_name("ingress_events", now)}
            # this month's usage, as the usage page reads it
            period = period_at(now)
            usage = (
                select(UsageEvent.kind, func.sum(UsageEvent.quantity))
                .where(
                    UsageEvent.tenant_id == tenant.id,
                    UsageEvent.kind.in_(SUM_KINDS),
                    UsageEvent.occurred_at >= period.starts_at,
                    UsageEvent.occurred_at < period.ends_at,
                )
                .group_by(UsageEvent.kind)
            )
            assert await _relations_read(session, usage) == {partition_name("usage_events", now)}
            used = await usage_between(session, tenant.id, period.starts_at, period.ends_at)
        assert used["records_synced"] == 30
        # an unbounded query reads every month, so the assertions above are not vacuous
        async with db.transaction(scope) as session:
            everything = await _relations_read(session, select(func.count()).select_from(UsageEvent))
        assert len(everything) == 16

    async def test_a_movement_outside_the_kept_months_is_refused_not_failed(
        self, db: Database, clock: FrozenClock
    ) -> None:
        tenant = await factories.make_tenant(db, await factories.make_partner(db))
        now = clock.now()
        far = (now - timedelta(days=3 * 365)).isoformat()
        items = [
            {
                "sku": "A",
                "location": "L",
                "delta": 1,
                "reason": "receipt",
                "source_id": "m1",
                "occurred_at": far,
            },
            {"sku": "A", "location": "L", "delta": 2, "reason": "receipt", "source_id": "m2"},
        ]
        async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
            outcome = await ingest(session, tenant.id, "inventory", items, now=now)
        assert (outcome.accepted, outcome.rejected) == (1, 1)
        assert outcome.errors[0]["index"] == 0
        assert outcome.errors[0]["field"] == "occurred_at"


def test_partition_names_and_months() -> None:
    at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert partition_name("runs", at) == "runs_2026_12"
    assert add_months(month_start(at), 1) == datetime(2027, 1, 1, tzinfo=UTC)
    assert add_months(month_start(at), -12) == datetime(2025, 12, 1, tzinfo=UTC)
    assert partitions.is_partition_name("usage_events_2026_12")
    assert not partitions.is_partition_name("usage_totals")


class TestRowLevelSecurity:
    async def test_parents_show_a_tenant_its_own_rows_and_partitions_are_closed(
        self, db: Database, clock: FrozenClock
    ) -> None:
        partner = await factories.make_partner(db)
        mine, theirs = await factories.make_tenant(db, partner), await factories.make_tenant(db, partner)
        now = clock.now()
        for tenant in (mine, theirs):
            await add_history(db, tenant.id, await add_flow(db, tenant.id), now)
            async with db.transaction(DbScope.for_tenant(tenant.id, partner.id)) as session:
                await ingest(session, tenant.id, "items", [{"sku": "S", "title": "t"}], now=now)
        tables = [*PARTITIONED, "ingress_event_keys"]
        for table in tables:
            async with db.transaction(DbScope.system()) as session:
                everyone = set((await session.execute(text(f"SELECT tenant_id FROM {table}"))).scalars())
            assert everyone == {mine.id, theirs.id}, table
            async with db.transaction(DbScope.for_tenant(mine.id, partner.id)) as session:
                seen = set((await session.execute(text(f"SELECT tenant_id FROM {table}"))).scalars())
            assert seen == {mine.id}, table
        # a partition named directly is not a way around the parent's policies: no grant at all
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.transaction(DbScope.for_tenant(mine.id, partner.id)) as session:
                await session.execute(text(f"SELECT * FROM {partition_name('usage_events', now)}"))
