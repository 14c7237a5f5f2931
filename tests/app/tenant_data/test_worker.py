"""Tenant data jobs on a real arq worker: an export and an erasure relayed from the outbox and run by a
burst worker, as in production."""

from __future__ import annotations

import zipfile
from typing import Any

from arq import create_pool
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.relay import OutboxRelay
from app.redis import arq_redis_settings
from app.settings import Settings
from app.tenant_data.deletion import DELETE_TASK, begin_deletion
from app.tenant_data.export import EXPORT_TASK, export_file, request_export
from app.tenant_data.models import TenantExport
from app.worker import FUNCTIONS, QUEUE_NAME, build_worker
from tenants.audit import Actor
from tenants.models import Tenant
from tests.app.tenant_data.conftest import tenant_rows
from tests.factories import World


def test_both_jobs_are_registered_with_a_long_timeout() -> None:
    registered = {function.name: function for function in FUNCTIONS}
    for task in (EXPORT_TASK, DELETE_TASK):
        assert (registered[task].timeout_s or 0) >= 3600


async def _relay_and_work(db: Database, settings: Settings, clock: FrozenClock) -> int:
    queue = await create_pool(arq_redis_settings(settings.redis_url or ""), default_queue_name=QUEUE_NAME)
    try:
        relayed = await OutboxRelay(db, queue, queue_name=QUEUE_NAME).drain()
    finally:
        await queue.aclose()
    worker = build_worker(settings, burst=True, relay=False, clock=clock)
    try:
        await worker.main()
    finally:
        await worker.close()
    return relayed


async def test_a_burst_worker_exports_then_erases(
    db: Database, owner: Any, settings: Settings, clock: FrozenClock, world: World
) -> None:
    async with db.transaction(DbScope.for_tenant(world.tenant_a2.id)) as session:
        export = await request_export(
            session, Actor("tests"), tenant_id=world.tenant_a2.id, requested_by=None
        )

    assert await _relay_and_work(db, settings, clock) == 1

    async with db.transaction(DbScope.system()) as session:
        done = await session.get(TenantExport, export.id)
    assert done is not None
    assert done.status == "done"
    path = export_file(settings, done)
    assert path is not None
    with zipfile.ZipFile(path) as archive:
        assert archive.read("tenants.jsonl").count(b"\n") == 1

    async with db.transaction(DbScope.system()) as session:
        await begin_deletion(
            session,
            Actor("tests"),
            partner_id=world.partner_a.id,
            tenant_id=world.tenant_a2.id,
            now=clock.now(),
        )

    assert await _relay_and_work(db, settings, clock) == 1

    assert not any((await tenant_rows(owner, world.tenant_a2.id)).values())
    assert not path.exists()
    async with db.transaction(DbScope.system()) as session:
        left = set(await session.scalars(select(Tenant.slug)))
    assert left == {"a1", "b1"}
