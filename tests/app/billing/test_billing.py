"""Platform → partner billing against the Stripe sandbox with the real SDK: set-up once, closed hours
reported once, each meter event received by Stripe once however often the sender runs, 429s ridden out,
reconciliation, and a burst worker doing it all from the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from arq import create_pool
from sqlalchemy import func, select, update

from app.billing.catalog import BILLABLE_METERS
from app.billing.jobs import REPORT_USAGE_TASK
from app.billing.models import BillingAccount, BillingReconciliation, MeterReport
from app.billing.service import (
    ensure_billing_account,
    hour_floor,
    reconcile_billing,
    report_identifier,
    report_usage,
    send_meter_events,
)
from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import QUEUE_NAME, build_worker
from tests.app.billing.conftest import StripeSandbox, hours_ago, use
from tests.factories import World


async def reports(db: Database) -> list[MeterReport]:
    async with db.transaction(DbScope.system()) as session:
        return list(
            await session.scalars(select(MeterReport).order_by(MeterReport.window_start, MeterReport.kind))
        )


async def seed_usage(db: Database, world: World, clock: FrozenClock) -> None:
    """Partner A's two retailers in two closed hours and the open one; partner B (not billed) too."""
    await use(db, world.tenant_a1.id, "records_synced", 100, hours_ago(clock, 3))
    await use(db, world.tenant_a2.id, "records_synced", 20, hours_ago(clock, 3, minutes=50))
    await use(db, world.tenant_a1.id, "events_accepted", 7, hours_ago(clock, 3))
    await use(db, world.tenant_a1.id, "records_synced", 5, hours_ago(clock, 2))
    await use(db, world.tenant_a1.id, "records_synced", 1000, clock.now())  # the hour is still open
    await use(db, world.tenant_b1.id, "records_synced", 999, hours_ago(clock, 3))


def stripe_totals(sandbox: StripeSandbox, account: BillingAccount, clock: FrozenClock) -> dict[str, int]:
    start, end = account.billing_starts_at, hour_floor(clock.now()) + timedelta(hours=1)
    return {
        kind: sandbox.summary(meter_id, account.stripe_customer_id, start, end)
        for kind, meter_id in account.meter_ids.items()
    }


class TestAccountSetup:
    async def test_a_partner_is_set_up_once(
        self, db: Database, billing_settings: Settings, world: World, clock: FrozenClock, billed: Any
    ) -> None:
        again = await ensure_billing_account(db, billing_settings, world.partner_a.id, clock.now())
        assert again.stripe_customer_id == billed.stripe_customer_id
        assert again.stripe_subscription_id == billed.stripe_subscription_id
        assert again.subscription_status == "active"
        assert set(again.meter_ids) == set(BILLABLE_METERS)
        other = await ensure_billing_account(db, billing_settings, world.partner_b.id, clock.now())
        assert other.stripe_customer_id != billed.stripe_customer_id
        assert other.meter_ids == billed.meter_ids  # the platform's meters are shared
        assert other.price_ids == billed.price_ids


class TestReportUsage:
    async def test_closed_hours_are_reported_once(
        self, db: Database, world: World, clock: FrozenClock, billed: Any
    ) -> None:
        await seed_usage(db, world, clock)
        assert await report_usage(db, clock.now()) == 3
        assert await report_usage(db, clock.now()) == 0
        rows = await reports(db)
        assert [(r.kind, r.window_start, r.value) for r in rows] == [
            ("events_accepted", hour_floor(clock.now()) - timedelta(hours=3), 7),
            ("records_synced", hour_floor(clock.now()) - timedelta(hours=3), 120),
            ("records_synced", hour_floor(clock.now()) - timedelta(hours=2), 5),
        ]
        assert {r.partner_id for r in rows} == {world.partner_a.id}
        assert rows[1].identifier == report_identifier(
            world.partner_a.id, "records_synced", rows[1].window_start
        )
        assert all(r.status == "pending" for r in rows)
        # the reporting mark lost (a worker died before committing it): the same hours count nothing twice
        async with db.transaction(DbScope.system()) as session:
            await session.execute(
                update(BillingAccount).values(reported_until=BillingAccount.billing_starts_at)
            )
        assert await report_usage(db, clock.now()) == 0
        clock.advance(timedelta(hours=1, minutes=10))
        assert await report_usage(db, clock.now()) >= 1  # the hour that was open is now closed
        assert sum(r.value for r in await reports(db) if r.kind == "records_synced") == 1125


class TestSendMeterEvents:
    async def test_stripe_receives_each_event_once_when_the_sender_is_retried(
        self,
        db: Database,
        billing_settings: Settings,
        world: World,
        clock: FrozenClock,
        billed: Any,
        stripe_sandbox: StripeSandbox,
    ) -> None:
        await seed_usage(db, world, clock)
        await report_usage(db, clock.now())
        first = await send_meter_events(db, billing_settings, clock.now())
        assert first.sent == 3
        expected = {"records_synced": 125, "events_accepted": 7, "delivery_runs": 0, "api_calls": 0}
        assert stripe_totals(stripe_sandbox, billed, clock) == expected

        async def forget_sent() -> None:
            """What a worker that died after Stripe's answer, before its commit, leaves behind."""
            async with db.transaction(DbScope.system()) as session:
                await session.execute(
                    update(MeterReport).values(status="pending", sent_at=None, next_attempt_at=clock.now())
                )

        await forget_sent()
        replayed = await send_meter_events(db, billing_settings, clock.now())
        assert replayed.sent == 3  # Stripe replays the first answer for the same idempotency key
        assert stripe_totals(stripe_sandbox, billed, clock) == expected

        # a day later the idempotency keys are gone; the identifiers still hold
        clock.advance(timedelta(days=1))
        stripe_sandbox.control.post("/_sandbox/stripe/forget_idempotency_keys").raise_for_status()
        await forget_sent()
        resent = await send_meter_events(db, billing_settings, clock.now())
        assert resent.already_recorded == 3
        assert all(r.status == "sent" for r in await reports(db))
        assert stripe_totals(stripe_sandbox, billed, clock) == expected

    async def test_429s_are_retried_then_sent(
        self,
        db: Database,
        billing_settings: Settings,
        world: World,
        clock: FrozenClock,
        billed: Any,
        stripe_sandbox: StripeSandbox,
    ) -> None:
        await use(db, world.tenant_a1.id, "delivery_runs", 4, hours_ago(clock, 2))
        await report_usage(db, clock.now())
        stripe_sandbox.fault(status=429, count=2, retry_after=1)
        quick = await send_meter_events(db, billing_settings, clock.now())
        assert quick.sent == 1  # the SDK's own retries rode out two 429s

        await use(db, world.tenant_a1.id, "delivery_runs", 6, hours_ago(clock, 3))
        async with db.transaction(DbScope.system()) as session:
            await session.execute(
                update(BillingAccount).values(reported_until=BillingAccount.billing_starts_at)
            )
        await report_usage(db, clock.now())
        stripe_sandbox.fault(status=429, count=4, retry_after=120)
        held = await send_meter_events(db, billing_settings, clock.now())
        assert held.retrying == 1
        waiting = [r for r in await reports(db) if r.status == "pending"]
        assert len(waiting) == 1
        assert waiting[0].next_attempt_at >= clock.now() + timedelta(seconds=120)
        assert "RateLimitError 429" in (waiting[0].last_error or "")
        assert (await send_meter_events(db, billing_settings, clock.now())).sent == 0  # not due yet
        clock.advance(timedelta(minutes=3))
        later = await send_meter_events(db, billing_settings, clock.now())
        assert later.sent == 1
        assert stripe_totals(stripe_sandbox, billed, clock)["delivery_runs"] == 10

    async def test_an_event_stripe_refuses_fails(
        self, db: Database, billing_settings: Settings, world: World, clock: FrozenClock, billed: Any
    ) -> None:
        too_old = hour_floor(clock.now()) - timedelta(days=40)
        async with db.transaction(DbScope.system()) as session:
            session.add(
                MeterReport(
                    partner_id=world.partner_a.id,
                    kind="records_synced",
                    event_name="shelfsync_records_synced",
                    window_start=too_old,
                    window_end=too_old + timedelta(hours=1),
                    value=3,
                    identifier=report_identifier(world.partner_a.id, "records_synced", too_old),
                    next_attempt_at=clock.now(),
                )
            )
        outcome = await send_meter_events(db, billing_settings, clock.now())
        assert outcome.failed == 1
        [row] = await reports(db)
        assert row.status == "failed"
        assert "35" in (row.last_error or "")


class TestWorker:
    async def test_a_burst_worker_reports_and_sends(
        self,
        db: Database,
        billing_settings: Settings,
        world: World,
        clock: FrozenClock,
        billed: Any,
        stripe_sandbox: StripeSandbox,
    ) -> None:
        await seed_usage(db, world, clock)
        assert billing_settings.redis_url
        pool = await create_pool(arq_redis_settings(billing_settings.redis_url))
        try:
            await pool.enqueue_job(REPORT_USAGE_TASK, _queue_name=QUEUE_NAME)
        finally:
            await pool.aclose()
        worker = build_worker(billing_settings, burst=True, relay=False, clock=clock)
        try:
            await worker.main()
        finally:
            await worker.close()
        rows = await reports(db)
        assert [r.status for r in rows] == ["sent", "sent", "sent"]
        assert stripe_totals(stripe_sandbox, billed, clock)["records_synced"] == 125


class TestReconcile:
    async def test_agreeing_totals_then_a_seeded_difference(
        self,
        db: Database,
        billing_settings: Settings,
        world: World,
        clock: FrozenClock,
        billed: Any,
    ) -> None:
        await seed_usage(db, world, clock)
        await report_usage(db, clock.now())
        await send_meter_events(db, billing_settings, clock.now())
        checks = await reconcile_billing(db, billing_settings, clock.now())
        assert {c.kind: (c.local_total, c.stripe_total, c.difference) for c in checks} == {
            "records_synced": (125, 125, 0),
            "events_accepted": (7, 7, 0),
            "delivery_runs": (0, 0, 0),
            "api_calls": (0, 0, 0),
        }
        # usage committed late into an hour already reported never reaches Stripe: reconciliation sees it
        await use(db, world.tenant_a2.id, "records_synced", 9, hours_ago(clock, 2, minutes=30))
        with structlog.testing.capture_logs() as logged:
            checks = await reconcile_billing(db, billing_settings, clock.now())
        differing = [c for c in checks if c.difference]
        assert [(c.kind, c.local_total, c.stripe_total, c.difference) for c in differing] == [
            ("records_synced", 134, 125, 9)
        ]
        warnings = [entry for entry in logged if entry["event"] == "billing.reconciliation_difference"]
        assert [(w["local_total"], w["stripe_total"]) for w in warnings] == [(134, 125)]
        async with db.transaction(DbScope.system()) as session:
            stored = await session.scalar(select(func.count()).select_from(BillingReconciliation))
        assert stored == 2 * len(BILLABLE_METERS)  # both checks kept, one row per meter each
