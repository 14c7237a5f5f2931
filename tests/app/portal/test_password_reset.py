"""Password reset: the mail goes through the outbox and a real burst worker; the link works once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from arq import create_pool
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.models import OutboxMessage
from app.outbox.relay import OutboxRelay
from app.redis import arq_redis_settings
from app.settings import Settings
from app.worker import QUEUE_NAME, build_worker
from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World
from tests.recording_sender import RecordingSender

NEW_PASSWORD = "a brand new passphrase"


async def deliver_outbox(settings: Settings, db: Database) -> RecordingSender:
    """Relay the outbox into arq and run a real burst worker over it."""
    sender = RecordingSender()
    queue = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE_NAME)
    try:
        await OutboxRelay(db, queue, queue_name=QUEUE_NAME).drain()
    finally:
        await queue.aclose()
    worker = build_worker(settings, burst=True, relay=False, mail_sender=sender)
    try:
        await worker.main()
    finally:
        await worker.close()
    return sender


def reset_path(body: str) -> str:
    match = re.search(r"https?://[^/\s]+(/password-reset/\S+)", body)
    assert match, body
    return match.group(1)


class TestPasswordReset:
    async def test_full_flow(
        self, alpha: AsyncTestClient[Any], world: World, settings: Settings, db: Database
    ) -> None:
        response = await submit(alpha, "/password-reset", "/password-reset", {"email": "admin@a1.example"})
        assert response.status_code == 202
        sender = await deliver_outbox(settings, db)
        assert len(sender.sent) == 1
        mail = sender.sent[0]
        assert mail.to_address == "admin@a1.example"
        assert mail.from_name == "Alpha Commerce"
        assert "Alpha Commerce" in mail.subject
        path = reset_path(mail.body)

        response = await submit(alpha, path, path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
        assert response.status_code == 303
        assert (await sign_in(alpha, "admin@a1.example", PASSWORD)).status_code == 401
        assert (await sign_in(alpha, "admin@a1.example", NEW_PASSWORD)).status_code == 303
        # the link is spent
        assert (await alpha.get(path)).status_code == 404

    async def test_unknown_address_gets_the_same_answer_and_no_mail(
        self, alpha: AsyncTestClient[Any], world: World, settings: Settings, db: Database
    ) -> None:
        response = await submit(alpha, "/password-reset", "/password-reset", {"email": "nobody@example.com"})
        assert response.status_code == 202
        assert "on its way" in response.text
        assert (await deliver_outbox(settings, db)).sent == []

    async def test_weak_or_mismatched_password_is_refused(
        self, alpha: AsyncTestClient[Any], world: World, settings: Settings, db: Database
    ) -> None:
        await submit(alpha, "/password-reset", "/password-reset", {"email": "admin@a1.example"})
        path = reset_path((await deliver_outbox(settings, db)).sent[0].body)
        short = await submit(alpha, path, path, {"password": "short", "password_again": "short"})
        assert short.status_code == 400
        assert "at least 12 characters" in short.text
        differ = await submit(
            alpha, path, path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"}
        )
        assert differ.status_code == 400
        assert "differ" in differ.text

    async def test_expired_link(
        self,
        alpha: AsyncTestClient[Any],
        world: World,
        settings: Settings,
        db: Database,
        clock: FrozenClock,
    ) -> None:
        await submit(alpha, "/password-reset", "/password-reset", {"email": "admin@a1.example"})
        path = reset_path((await deliver_outbox(settings, db)).sent[0].body)
        clock.advance(timedelta(hours=2))
        assert (await alpha.get(path)).status_code == 404

    async def test_outbox_row_is_processed_once(
        self, alpha: AsyncTestClient[Any], world: World, settings: Settings, db: Database
    ) -> None:
        await submit(alpha, "/password-reset", "/password-reset", {"email": "admin@a1.example"})
        assert len((await deliver_outbox(settings, db)).sent) == 1
        # relaying and running again (as after a lost Redis or a crashed relay) sends nothing more
        async with db.transaction(DbScope.system()) as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
            for row in rows:
                row.enqueued_at = None
        await (await create_pool(arq_redis_settings(settings.redis_url or ""))).flushdb()
        assert (await deliver_outbox(settings, db)).sent == []
        async with db.transaction(DbScope.system()) as session:
            processed = await session.scalar(select(OutboxMessage))
        assert processed is not None
        assert processed.processed_at is not None
        assert processed.attempts == 1


class TestResetLinkHost:
    async def test_link_uses_the_brands_host_not_the_request_host(
        self, app: Litestar, world: World, settings: Settings, db: Database
    ) -> None:
        async with AsyncTestClient(app, base_url="https://evil.example") as client:
            response = await submit(
                client,
                "/password-reset?partner=alpha",
                "/password-reset?partner=alpha",
                {"email": "admin@a1.example"},
            )
        assert response.status_code == 202
        body = (await deliver_outbox(settings, db)).sent[0].body
        assert "evil.example" not in body
        assert "https://alpha.localhost/password-reset/" in body
