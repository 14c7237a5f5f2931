"""The transactional outbox: accepted work survives a Redis outage and runs exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from arq import create_pool
from litestar.testing import AsyncTestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from app.factory import create_app
from app.mail.service import queue_mail, send_mail
from app.outbox.models import OutboxMessage
from app.outbox.relay import OutboxRelay
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import QUEUE_NAME
from tests.app.portal.forms import csrf_token
from tests.app.portal.test_password_reset import deliver_outbox
from tests.factories import World
from tests.recording_sender import RecordingSender
from tests.redis_process import RedisProcess


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    server = RedisProcess()
    server.start()
    yield server
    server.stop()


class TestRedisOutage:
    async def test_work_accepted_while_redis_is_down_is_delivered_after(
        self, settings: Settings, db: Database, world: World, private_redis: RedisProcess
    ) -> None:
        local = replace(settings, redis_url=private_redis.url)
        queue = await create_pool(arq_redis_settings(local.redis_url or ""), default_queue_name=QUEUE_NAME)
        async with AsyncTestClient(create_app(local), base_url="https://alpha.localhost") as client:
            token = await csrf_token(client, "/password-reset")
            private_redis.stop()
            response = await client.post(
                "/password-reset", data={"email": "admin@a1.example", "_csrf_token": token}
            )
            assert response.status_code == 202
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "redis" in ready.json()["detail"]

        async with db.transaction(DbScope.system()) as session:
            pending = (await session.scalars(select(OutboxMessage))).all()
        assert [row.task for row in pending] == ["send_mail"]
        assert pending[0].enqueued_at is None

        with pytest.raises(RedisConnectionError):
            await OutboxRelay(db, queue, queue_name=QUEUE_NAME).relay_once()
        await queue.aclose()
        async with db.transaction(DbScope.system()) as session:
            assert (await session.scalar(select(OutboxMessage))).enqueued_at is None  # type: ignore[union-attr]

        private_redis.start()
        sender = await deliver_outbox(local, db)
        assert [mail.to_address for mail in sender.sent] == ["admin@a1.example"]


class TestExactlyOnce:
    async def test_concurrent_runs_of_one_row_send_once(self, db: Database, settings: Settings) -> None:
        async with db.transaction(DbScope.system()) as session:
            await queue_mail(session, to_address="a@example.com", from_name="n", subject="s", body="b")
            outbox_id = await session.scalar(select(OutboxMessage.id))
        sender = RecordingSender()
        ctx: dict[str, Any] = {"db": db, "mail_sender": sender}
        results = await asyncio.gather(*(send_mail(ctx, outbox_id) for _ in range(4)))  # type: ignore[arg-type]
        assert sorted(results) == ["already-processed"] * 3 + ["sent"]
        assert len(sender.sent) == 1

    async def test_two_relays_hand_out_each_row_once(self, db: Database, settings: Settings) -> None:
        async with db.transaction(DbScope.system()) as session:
            for index in range(50):
                await queue_mail(
                    session, to_address=f"{index}@example.com", from_name="n", subject="s", body="b"
                )
        queue = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE_NAME)
        try:
            relays = [OutboxRelay(db, queue, queue_name=QUEUE_NAME, batch_size=7) for _ in range(2)]
            counts = await asyncio.gather(*(relay.drain() for relay in relays))
            assert sum(counts) == 50
            assert await queue.zcard(QUEUE_NAME) == 50
        finally:
            await queue.aclose()

    async def test_failed_job_records_the_error_and_retries(self, db: Database, settings: Settings) -> None:
        from arq import Retry

        from app.outbox.jobs import outbox_job

        class FailingSender:
            async def send(self, mail: Any) -> None:
                raise ConnectionRefusedError("smtp down")

        async with db.transaction(DbScope.system()) as session:
            await queue_mail(session, to_address="a@example.com", from_name="n", subject="s", body="b")
            outbox_id = await session.scalar(select(OutboxMessage.id))
        job = outbox_job(send_mail)
        with pytest.raises(Retry):
            await job({"db": db, "mail_sender": FailingSender(), "job_try": 1}, outbox_id)  # type: ignore[arg-type]
        async with db.transaction(DbScope.system()) as session:
            row = await session.get(OutboxMessage, outbox_id)
        assert row is not None
        assert row.processed_at is None
        assert "smtp down" in (row.last_error or "")
        sender = RecordingSender()
        assert await job({"db": db, "mail_sender": sender, "job_try": 2}, outbox_id) == "sent"  # type: ignore[arg-type]
        assert len(sender.sent) == 1
