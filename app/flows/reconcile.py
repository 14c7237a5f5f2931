"""Reconciliation: read each destination back, compare with the canonical state, record the drift
(sku, destination, expected, found) on the run, and queue a correction for every drifted entity.

Destination records are made canonical with the destination template's default inbound recipe, so any
template that can read the flow's domain can be reconciled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.readback import read_canonical
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.queue import Change, enqueue, nudge
from app.flows.changes import price_changes, stock_changes
from app.flows.metrics import record_run
from app.flows.models import Flow, FlowDestination, Run
from app.flows.queued_runs import queue_run
from app.flows.service import flow_destinations
from app.flows.settings import Allocation
from app.inventory.service import availability
from app.logging import bind_work
from app.prices.service import prices_in_force
from app.promotions.overlay import live_overlay
from app.settings import Settings
from connectors.canonical import Price, StockBalance
from connectors.sdk.errors import ConnectorError
from tenants.models import Tenant

log = structlog.get_logger(__name__)

RECONCILE_TASK = "reconcile_flow"
MAX_DRIFT_KEPT = 1000


async def reconcile(settings: Settings, db: Database, redis: Redis, run_id: uuid.UUID, now: Any) -> Run:
    """Execute a queued reconcile run: drift per destination on ``run.details``, corrections queued."""
    started = time.perf_counter()
    async with db.transaction(DbScope.system()) as session:
        run = await session.get(Run, run_id)
        assert run is not None
        bind_work(
            tenant_id=run.tenant_id, flow_id=run.flow_id, run_id=run.id, correlation_id=run.correlation_id
        )
        flow = await session.get(Flow, run.flow_id)
        assert flow is not None
        tenant = await session.get(Tenant, flow.tenant_id)
        assert tenant is not None
        destinations = await flow_destinations(session, flow.id)
        run.status = "running"
    drift: list[dict[str, Any]] = []
    corrected = 0
    try:
        for destination in destinations:
            found = await read_canonical(
                settings, db, redis, tenant, destination.connection_id, flow.domain, run.correlation_id
            )
            run.read_count += len(found)
            async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
                changes = await _drifted(session, flow, destination, found, now(), run.correlation_id, drift)
                await enqueue(session, tenant.id, destination.id, changes, now())
                if changes:
                    await nudge(session, tenant.id, [destination.id], run.correlation_id)
                corrected += len(changes)
        run.status = "succeeded"
    except ConnectorError as error:
        run.status = "failed"
        run.error = error.message
    run.written_count = corrected
    run.details = {"drift": drift[:MAX_DRIFT_KEPT], "drifted": len(drift), "corrected": corrected}
    run.finished_at = now()
    async with db.transaction(DbScope.system()) as session:
        await session.merge(run)
    record_run(flow.domain, run.kind, run.status, time.perf_counter() - started)
    log.info("reconcile.done", flow=str(flow.id), drifted=len(drift), correlation_id=run.correlation_id)
    return run


async def _drifted(
    session: Any,
    flow: Flow,
    destination: FlowDestination,
    found: list[Any],
    now: datetime,
    correlation_id: str | None,
    drift: list[dict[str, Any]],
) -> list[Change]:
    """Corrections for what differs; each difference is added to ``drift``."""
    if flow.domain == "inventory":
        allocation = msgspec.convert(destination.allocation or {}, Allocation)
        seen = {
            b.sku: b.on_hand
            for b in found
            if isinstance(b, StockBalance) and b.location == allocation.location_code
        }
        by_sku = await availability(session, flow.tenant_id)
        wrong: dict[str, dict[str, int]] = {}
        for sku, locations in by_sku.items():
            expected = allocation.channel_available(locations)
            if seen.get(sku) != expected:
                drift.append(
                    {
                        "sku": sku,
                        "destination": str(destination.id),
                        "expected": expected,
                        "found": seen.get(sku),
                    }
                )
                wrong[sku] = locations
        return [
            replace(c, is_urgent=True, due_at=now)
            for c in stock_changes(flow, destination, wrong, now, correlation_id)
        ]
    if flow.domain == "prices":
        seen_prices = {(p.sku, p.price_list): p.amount for p in found if isinstance(p, Price)}
        current = await prices_in_force(session, flow.tenant_id, now, lambda row: (row.sku, row.price_list))
        overlay = await live_overlay(session, destination.id)
        wrong_prices: list[Price] = []
        for key, row in current.items():
            price = row.to_price()
            # what the destination should show: the promotional price where a promotion is live there
            # (the correction queues the regular price; delivery lays the promotion over it again)
            shown = overlay.price(price)
            if seen_prices.get(key) is None or Decimal(seen_prices[key]) != shown.amount:
                drift.append(
                    {
                        "sku": key[0],
                        "price_list": key[1],
                        "destination": str(destination.id),
                        "expected": str(shown.amount),
                        "found": None if key not in seen_prices else str(seen_prices[key]),
                    }
                )
                wrong_prices.append(price)
        return [
            replace(c, is_urgent=True, due_at=now)
            for c in price_changes(flow, wrong_prices, now, correlation_id)
        ]
    return []


async def queue_reconcile(
    session: AsyncSession, flow: Flow, now: datetime, correlation_id: str | None
) -> Run:
    """A queued reconcile run, done by a worker."""
    return await queue_run(session, flow, "reconcile", RECONCILE_TASK, now, correlation_id)
