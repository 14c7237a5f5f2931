"""The issue's acceptance point: an alert fires once and recovers once, by mail and by a signed webhook,
however often the evaluation runs and however many evaluations run at once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from arq import Retry
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.alerts.evaluation import evaluate_alerts
from app.alerts.jobs import send_alert_webhook
from app.alerts.models import AlertIncident
from app.alerts.notifications import ALERT_WEBHOOK_TASK, EVENT_ID_HEADER
from app.alerts.service import RuleSpec
from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.jobs import outbox_job
from app.outbox.models import OutboxMessage
from app.settings import Settings
from tests.app.alerts.conftest import (
    Flows,
    Receiver,
    dead_letters,
    discard_all,
    incidents,
    job_context,
    make_rule,
    outbox_tasks,
    run_outbox,
)
from tests.app.portal.sync_facts import record_runs
from tests.factories import World
from tests.recording_sender import RecordingSender


async def evaluate_rounds(db: Database, clock: FrozenClock, ctx: dict[str, object], rounds: int = 3) -> None:
    """The cron's minutes: evaluate, let the worker send what was queued, move the clock."""
    for _ in range(rounds):
        await evaluate_alerts(db, clock.now())
        await run_outbox(ctx)
        clock.advance(timedelta(minutes=1))


class TestFiresOnceRecoversOnce:
    async def test_dead_letters(
        self,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        world: World,
        flows: Flows,
        receiver: Receiver,
    ) -> None:
        rule_id, secret = await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec(
                "dead letters on the shop",
                "dead_letters_open",
                ">",
                0,
                emails=["ops@a1.example", "cto@a1.example"],
                webhook_url=receiver.url,
            ),
        )
        assert secret is not None
        sender = RecordingSender()
        ctx = job_context(db, settings, clock, sender)
        await evaluate_rounds(db, clock, ctx)
        assert sender.sent == []
        assert receiver.deliveries == []

        await dead_letters(db, world.tenant_a1, flows.shop_destination, 2)
        await evaluate_rounds(db, clock, ctx, rounds=4)
        assert sorted(mail.to_address for mail in sender.sent) == ["cto@a1.example", "ops@a1.example"]
        assert all(mail.subject.startswith("Alert: dead letters on the shop") for mail in sender.sent)
        assert {mail.from_name for mail in sender.sent} == {"Alpha Commerce"}  # the partner's brand
        [firing] = receiver.verified_events(secret)
        assert firing["type"] == "alert.firing"
        assert firing["rule"] == {"id": str(rule_id), "name": "dead letters on the shop"}
        assert firing["flow"]["id"] == str(flows.shop)
        assert firing["tenant"]["id"] == str(world.tenant_a1.id)
        assert (firing["metric"], firing["value"], firing["threshold"]) == ("dead_letters_open", 2.0, 0.0)
        assert firing["resolved_at"] is None
        [incident] = await incidents(db)
        assert incident.flow_id == flows.shop
        assert incident.resolved_at is None
        assert (incident.firing_mails, incident.firing_webhook) == (2, "delivered")

        await discard_all(db)
        await evaluate_rounds(db, clock, ctx, rounds=4)
        assert len(sender.sent) == 4
        assert all(mail.subject.startswith("Recovered: dead letters on the shop") for mail in sender.sent[2:])
        events = receiver.verified_events(secret)
        assert [event["type"] for event in events] == ["alert.firing", "alert.recovered"]
        recovered = events[1]
        assert recovered["incident"] == firing["incident"]
        assert recovered["value"] == 0.0
        assert recovered["resolved_at"] is not None
        ids = [delivery.headers[EVENT_ID_HEADER.lower()] for delivery in receiver.accepted()]
        assert ids == [firing["id"], recovered["id"]]
        assert ids[0] != ids[1]
        [incident] = await incidents(db)
        assert incident.resolution == "recovered"
        assert incident.resolved_value == 0.0
        assert (incident.recovered_mails, incident.recovered_webhook) == (2, "delivered")

        await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
        await evaluate_rounds(db, clock, ctx)
        assert len(await incidents(db)) == 2  # a new problem is a new incident, told once more
        assert len(receiver.accepted()) == 3

    async def test_success_rate_over_the_rule_window(
        self, db: Database, settings: Settings, clock: FrozenClock, world: World, flows: Flows
    ) -> None:
        await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec(
                "deliveries failing", "success_rate", "<", 95, window_seconds=600, emails=["ops@a1.example"]
            ),
        )
        sender = RecordingSender()
        ctx = job_context(db, settings, clock, sender)
        await record_runs(db, world.tenant_a1.id, flows.outlet, clock.now(), 90, 10)  # 90 %, 5 min ago
        await record_runs(db, world.tenant_a1.id, flows.shop, clock.now(), 100, 0)
        await evaluate_rounds(db, clock, ctx, rounds=2)
        [incident] = await incidents(db)
        assert incident.flow_id == flows.outlet
        assert incident.opened_value == pytest.approx(90.0)
        assert [mail.subject for mail in sender.sent] == [
            f"Alert: deliveries failing on outlet stock ({world.tenant_a1.name})"
        ]
        assert "90.00 %" in sender.sent[0].body
        # more than 10 minutes after the failing run it has left the window: no traffic, nothing to judge
        await evaluate_rounds(db, clock, ctx, rounds=6)
        [incident] = await incidents(db)
        assert incident.resolution == "recovered"
        assert incident.resolved_value is None
        assert len(sender.sent) == 2
        assert sender.sent[1].subject.startswith("Recovered:")

    async def test_a_rule_for_one_flow_ignores_the_others_and_other_tenants(
        self, db: Database, settings: Settings, clock: FrozenClock, world: World, flows: Flows
    ) -> None:
        await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec(
                "outlet only", "dead_letters_open", ">=", 1, flow_id=flows.outlet, emails=["o@a1.example"]
            ),
        )
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 3)
        await dead_letters(db, world.tenant_a2, flows.stranger_destination, 3)
        await evaluate_alerts(db, clock.now())
        assert await incidents(db) == []
        await dead_letters(db, world.tenant_a1, flows.outlet_destination, 1)
        await evaluate_alerts(db, clock.now())
        assert [incident.flow_id for incident in await incidents(db)] == [flows.outlet]


class TestConcurrentEvaluations:
    async def test_two_at_once_open_one_incident_and_resolve_it_once(
        self, db: Database, settings: Settings, clock: FrozenClock, world: World, flows: Flows
    ) -> None:
        await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec("any dead letter", "dead_letters_open", ">", 0, emails=["o@a1.example"]),
        )
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
        reports = await asyncio.gather(*(evaluate_alerts(db, clock.now()) for _ in range(4)))
        assert sum(report.opened for report in reports) == 1
        assert len(await incidents(db)) == 1
        assert await outbox_tasks(db) == ["send_mail"]

        await discard_all(db)
        clock.advance(timedelta(minutes=1))
        reports = await asyncio.gather(*(evaluate_alerts(db, clock.now()) for _ in range(4)))
        assert sum(report.resolved for report in reports) == 1
        assert await outbox_tasks(db) == ["send_mail", "send_mail"]

    async def test_the_database_refuses_a_second_open_incident(
        self, db: Database, settings: Settings, clock: FrozenClock, world: World, flows: Flows
    ) -> None:
        rule_id, _ = await make_rule(
            db, settings, world.tenant_a1, RuleSpec("r", "dead_letters_open", ">", 0, emails=["o@a1.example"])
        )

        def incident() -> AlertIncident:
            return AlertIncident(
                tenant_id=world.tenant_a1.id,
                rule_id=rule_id,
                flow_id=flows.shop,
                metric="dead_letters_open",
                comparison=">",
                threshold=0,
                opened_at=clock.now(),
                opened_value=1,
            )

        async with db.transaction(DbScope.system()) as session:
            session.add(incident())
        with pytest.raises(IntegrityError, match="uq_alert_incidents_open"):
            async with db.transaction(DbScope.system()) as session:
                session.add(incident())
        async with db.transaction(DbScope.system()) as session:
            await session.execute(update(AlertIncident).values(resolved_at=clock.now()))
            session.add(incident())  # once resolved, the rule × flow may open again


class TestWebhookRetries:
    async def test_a_failing_receiver_is_retried_then_served_once(
        self,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        world: World,
        flows: Flows,
        receiver: Receiver,
    ) -> None:
        _, secret = await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec("hook", "dead_letters_open", ">", 0, webhook_url=receiver.url),
        )
        assert secret is not None
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
        await evaluate_alerts(db, clock.now())
        async with db.transaction(DbScope.system()) as session:
            outbox_id = await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.task == ALERT_WEBHOOK_TASK)
            )
        assert outbox_id is not None
        receiver.failures = 2
        job = outbox_job(send_alert_webhook)
        ctx = job_context(db, settings, clock, RecordingSender())
        delays = []
        for attempt in (1, 2):
            with pytest.raises(Retry) as retry:
                await job(ctx | {"job_try": attempt}, outbox_id)
            delays.append(retry.value.defer_score)
            clock.advance(timedelta(seconds=(retry.value.defer_score or 0) / 1000))
        assert delays == [2000, 4000]  # backoff grows
        async with db.transaction(DbScope.system()) as session:
            row = await session.get(OutboxMessage, outbox_id)
            assert row is not None
            assert row.processed_at is None
            assert "HTTP 503" in (row.last_error or "")
        assert (await incidents(db))[0].firing_webhook == "pending"

        assert await job(ctx | {"job_try": 3}, outbox_id) == "delivered"
        assert await job(ctx | {"job_try": 4}, outbox_id) == "already-processed"
        assert [delivery.status for delivery in receiver.deliveries] == [503, 503, 200]
        assert len({delivery.headers[EVENT_ID_HEADER.lower()] for delivery in receiver.deliveries}) == 1
        assert len(receiver.verified_events(secret)) == 1
        [incident] = await incidents(db)
        assert incident.firing_webhook == "delivered"
        assert incident.firing_webhook_at == clock.now()

    async def test_the_ssrf_guard_is_applied_when_sending(
        self,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        world: World,
        flows: Flows,
        receiver: Receiver,
    ) -> None:
        await make_rule(
            db,
            settings,
            world.tenant_a1,
            RuleSpec("hook", "dead_letters_open", ">", 0, webhook_url=receiver.url),
        )
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
        await evaluate_alerts(db, clock.now())
        strict = replace(settings, connector_allow_private=False)
        with pytest.raises(Retry):
            await run_outbox(job_context(db, strict, clock, RecordingSender()))
        assert receiver.deliveries == []
        async with db.transaction(DbScope.system()) as session:
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.task == ALERT_WEBHOOK_TASK))
        assert row is not None
        assert row.processed_at is None
        assert "private or local address" in (row.last_error or "")
