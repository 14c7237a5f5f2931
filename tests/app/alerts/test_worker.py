"""Alerts with a real arq worker: the cron job is registered, and what an evaluation queues is relayed
from the outbox and delivered (mail and signed webhook) by a burst worker."""

from __future__ import annotations

from arq import create_pool

from app.alerts.jobs import evaluate_rules
from app.alerts.notifications import ALERT_WEBHOOK_TASK
from app.alerts.service import RuleSpec
from app.clock import FrozenClock
from app.database.engine import Database
from app.outbox.relay import OutboxRelay
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import CRON_JOBS, FUNCTIONS, QUEUE_NAME, build_worker
from tests.app.alerts.conftest import Flows, Receiver, dead_letters, incidents, make_rule
from tests.factories import World
from tests.recording_sender import RecordingSender


def test_the_evaluation_runs_every_minute_and_the_webhook_job_is_registered() -> None:
    [job] = [job for job in CRON_JOBS if job.coroutine is evaluate_rules]
    assert job.unique
    assert job.second == {30}
    assert job.minute is None  # every minute
    assert ALERT_WEBHOOK_TASK in {function.name for function in FUNCTIONS}


async def test_a_burst_worker_delivers_what_the_evaluation_queued(
    db: Database, settings: Settings, clock: FrozenClock, world: World, flows: Flows, receiver: Receiver
) -> None:
    _, secret = await make_rule(
        db,
        settings,
        world.tenant_a1,
        RuleSpec(
            "dead letters", "dead_letters_open", ">", 0, emails=["ops@a1.example"], webhook_url=receiver.url
        ),
    )
    assert secret is not None
    await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
    assert await evaluate_rules({"db": db, "clock": clock}) == "checked 2, opened 1, resolved 0"

    queue = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE_NAME)
    try:
        assert await OutboxRelay(db, queue, queue_name=QUEUE_NAME).drain() == 2
    finally:
        await queue.aclose()
    sender = RecordingSender()
    worker = build_worker(settings, burst=True, relay=False, mail_sender=sender, clock=clock)
    try:
        await worker.main()
    finally:
        await worker.close()

    assert [mail.to_address for mail in sender.sent] == ["ops@a1.example"]
    [event] = receiver.verified_events(secret)
    assert event["type"] == "alert.firing"
    [incident] = await incidents(db)
    assert incident.firing_webhook == "delivered"
