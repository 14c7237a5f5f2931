"""Reading a flow's source: pull pages from the source connection (full, or incremental from the stored
cursor), map them to canonical records with the flow's inbound recipe, and ingest them page by page —
the cursor moves with each page, so a run cut short resumes where it stopped."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.connections.runtime import worker_context
from app.connections.service import choice_of
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.metrics import record_run
from app.flows.models import Flow, Run
from app.flows.queued_runs import queue_run
from app.ingress.service import IngestOutcome, ingest
from app.logging import bind_work
from app.recipes.service import version_spec
from app.settings import Settings
from connectors.canonical import to_builtins
from connectors.recipes import CompiledRecipe, compile_recipe
from connectors.sdk.domains import Domain
from connectors.sdk.errors import ConnectorError
from tenants.models import Tenant

log = structlog.get_logger(__name__)

MAX_ERRORS_KEPT = 100
PULL_TASK = "pull_flow"


async def source_recipe(db: Database, flow: Flow) -> CompiledRecipe:
    """The flow's inbound recipe, latest version, compiled (once per version)."""
    assert flow.source_recipe_id is not None
    async with db.transaction(DbScope.system()) as session:
        return compile_recipe(await version_spec(session, flow.source_recipe_id))


def mapped_items(recipe: CompiledRecipe, records: list[dict[str, Any]], run: Run) -> list[Any]:
    """Canonical items for ingest; records the recipe cannot map are counted and kept as run errors."""
    items: list[Any] = []
    for mapped in recipe.map_many(records):
        if mapped.status == "ok" and mapped.record is not None:
            items.append(to_builtins(mapped.record))
        elif mapped.status == "skipped":
            run.skipped_count += 1
        else:
            run.failed_count += 1
            if len(run.errors) < MAX_ERRORS_KEPT:
                run.errors = [
                    *run.errors,
                    {"index": mapped.index, **(mapped.error.as_dict() if mapped.error else {})},
                ]
    return items


async def ingest_into_run(
    session: AsyncSession, flow: Flow, items: list[Any], run: Run, now: datetime
) -> IngestOutcome:
    """Ingest a flow's mapped items like API events, and count what became of them into ``run``."""
    outcome = await ingest(
        session,
        flow.tenant_id,
        flow.domain,
        items,
        now=now,
        correlation_id=run.correlation_id,
        flow_id=flow.id,
    )
    run.written_count += outcome.accepted
    run.skipped_count += outcome.duplicate + outcome.stale
    run.failed_count += outcome.rejected
    run.errors = [*run.errors, *outcome.errors][:MAX_ERRORS_KEPT]
    return outcome


async def pull(settings: Settings, db: Database, redis: Redis, run_id: uuid.UUID, now: Any) -> Run:
    """Execute a queued pull run (``full`` or ``incremental``) of a flow with a source connection."""
    box = SecretBox.from_settings(settings)
    started = time.perf_counter()
    async with db.transaction(DbScope.system()) as session:
        run = await session.get(Run, run_id)
        assert run is not None
        bind_work(
            tenant_id=run.tenant_id, flow_id=run.flow_id, run_id=run.id, correlation_id=run.correlation_id
        )
        flow = await session.get(Flow, run.flow_id)
        assert flow is not None
        assert flow.source_connection_id is not None
        connection = await session.get(Connection, flow.source_connection_id)
        tenant = await session.get(Tenant, flow.tenant_id)
        assert connection is not None
        assert tenant is not None
        template_class = (await choice_of(session, connection, tenant.partner_id)).template
        run.status = "running"
        run.started_at = now()
    recipe = await source_recipe(db, flow)
    scope = DbScope.for_tenant(tenant.id, tenant.partner_id)
    context = worker_context(settings, db, redis, box, connection, tenant, template_class, run.correlation_id)
    cursor = flow.cursor if run.kind == "incremental" else None
    try:
        async with template_class(context) as template:
            async for page in template.read(Domain(flow.domain), cursor):
                run.read_count += len(page.records)
                items = mapped_items(recipe, page.records, run)
                async with db.transaction(scope) as session:
                    if items:
                        await ingest_into_run(session, flow, items, run, now())
                    if page.cursor is not None:
                        cursor = page.cursor
                        run.cursor = cursor
                        stored = await session.get(Flow, flow.id)
                        assert stored is not None
                        stored.cursor = cursor
        run.status = "succeeded" if not run.failed_count else "partial"
    except ConnectorError as error:
        run.status = "failed"
        run.error = error.message
        log.warning("pull.failed", flow=str(flow.id), error=error.message, correlation_id=run.correlation_id)
    run.finished_at = now()
    async with db.transaction(DbScope.system()) as session:
        await session.merge(run)
    record_run(flow.domain, run.kind, run.status, time.perf_counter() - started)
    return run


async def queue_pull(
    session: AsyncSession, flow: Flow, kind: str, now: datetime, correlation_id: str | None
) -> Run:
    """A queued pull (``full`` or ``incremental``), done by a worker."""
    return await queue_run(session, flow, kind, PULL_TASK, now, correlation_id)
