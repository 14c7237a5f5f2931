"""What alert tests share: a retailer's flows with facts to alert on, a webhook receiver on a real
socket, rules made through the service, and running the outbox jobs an evaluation queued."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar, Request, Response, post
from sqlalchemy import select, update

from app.alerts.jobs import send_alert_webhook
from app.alerts.models import AlertIncident, AlertRule
from app.alerts.notifications import ALERT_WEBHOOK_TASK, SCHEME
from app.alerts.service import RuleSpec, create_rule
from app.clock import FrozenClock
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter
from app.flows.models import FlowDestination
from app.mail.service import SEND_MAIL_TASK, send_mail
from app.outbox.jobs import outbox_job
from app.outbox.models import OutboxMessage
from app.settings import Settings
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.webhooks import verify
from tenants.models import Tenant
from tests.app.api.test_dead_letters import add_dead_letter, make_destination
from tests.connectors.serving import serve_in_thread
from tests.factories import World
from tests.recording_sender import RecordingSender

JOBS = {SEND_MAIL_TASK: outbox_job(send_mail), ALERT_WEBHOOK_TASK: outbox_job(send_alert_webhook)}


@dataclass
class Delivery:
    """One request the receiver got, and what it answered."""

    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float
    """The test clock's time at receipt: the receiver's "now" for the signature's replay window."""

    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = msgspec.json.decode(self.body)
        return found


@dataclass
class Receiver:
    """A customer's alert endpoint: records every request; answers 503 to the first ``failures``."""

    clock: FrozenClock
    url: str = ""
    failures: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Litestar:
        @post("/alerts", status_code=200)
        async def receive(request: Request[Any, Any, Any]) -> Response[str]:
            body = await request.body()
            with self._lock:
                status = 503 if self.failures > 0 else 200
                self.failures -= status == 503
                self.deliveries.append(
                    Delivery(dict(request.headers), body, status, self.clock.now().timestamp())
                )
            return Response("busy" if status == 503 else "ok", status_code=status)

        return Litestar([receive])

    def accepted(self) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.status == 200]

    def verified_events(self, secret: str) -> list[dict[str, Any]]:
        """The accepted events, each checked with the verifier we use for inbound webhooks."""
        for delivery in self.accepted():
            verify(SCHEME, [secret], delivery.headers, delivery.body, delivery.received_at)
        return [delivery.event() for delivery in self.accepted()]


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[Receiver]:
    found = Receiver(clock)
    with serve_in_thread(found.app()) as url:
        found.url = f"{url}/alerts"
        yield found


@dataclass
class Flows:
    """Tenant a1's two inventory flows (shop, outlet) and tenant a2's one, each with one destination."""

    shop: uuid.UUID
    shop_destination: uuid.UUID
    outlet: uuid.UUID
    outlet_destination: uuid.UUID
    stranger: uuid.UUID
    stranger_destination: uuid.UUID


async def flow_of(db: Database, destination_id: uuid.UUID) -> uuid.UUID:
    async with db.transaction(DbScope.system()) as session:
        found = await session.scalar(
            select(FlowDestination.flow_id).where(FlowDestination.id == destination_id)
        )
    assert found is not None
    return found


@pytest.fixture
async def flows(world: World, db: Database, settings: Settings, tmp_path: Path) -> Flows:
    shop = await make_destination(db, settings, tmp_path, world.tenant_a1, "shop")
    outlet = await make_destination(db, settings, tmp_path, world.tenant_a1, "outlet")
    other = await make_destination(db, settings, tmp_path, world.tenant_a2, "shop")
    return Flows(
        await flow_of(db, shop), shop, await flow_of(db, outlet), outlet, await flow_of(db, other), other
    )


async def make_rule(
    db: Database, settings: Settings, tenant: Tenant, spec: RuleSpec
) -> tuple[uuid.UUID, str | None]:
    """A rule stored as the API stores it: (id, webhook secret)."""
    async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
        row, secret = await create_rule(
            session,
            SecretBox.from_settings(settings),
            NetworkPolicy.permissive(),
            tenant_id=tenant.id,
            spec=spec,
        )
        return row.id, secret


async def dead_letters(db: Database, tenant: Tenant, destination_id: uuid.UUID, count: int) -> list[int]:
    return [await add_dead_letter(db, tenant, destination_id, sku=f"SKU-{n}") for n in range(count)]


async def discard_all(db: Database) -> None:
    async with db.transaction(DbScope.system()) as session:
        await session.execute(update(DeadLetter).values(status="discarded"))


async def incidents(db: Database) -> list[AlertIncident]:
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(AlertIncident).order_by(AlertIncident.opened_at))).all())


async def outbox_tasks(db: Database) -> list[str]:
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(OutboxMessage.task).order_by(OutboxMessage.id))).all())


async def stored_rule(db: Database, rule_id: uuid.UUID) -> AlertRule:
    async with db.transaction(DbScope.system()) as session:
        row = await session.get(AlertRule, rule_id)
    assert row is not None
    return row


def job_context(
    db: Database, settings: Settings, clock: FrozenClock, sender: RecordingSender
) -> dict[str, Any]:
    return {"db": db, "settings": settings, "clock": clock, "mail_sender": sender, "job_try": 1}


async def run_outbox(ctx: dict[str, Any]) -> list[str]:
    """Run every unprocessed outbox row's job once, as a worker would (first try); their results."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        rows = (
            await session.execute(
                select(OutboxMessage.id, OutboxMessage.task)
                .where(OutboxMessage.processed_at.is_(None))
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [await JOBS[row.task](ctx, row.id) for row in rows]
