"""A full run: put the whole canonical state of a flow's domain in front of its destinations (first
sync, or after a destination was rebuilt). Delivery then goes through the queue like any change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.queue import Change, enqueue
from app.flows.changes import price_changes, stock_changes
from app.flows.models import Flow, Run
from app.flows.queued_runs import queue_run
from app.flows.service import flow_destinations
from app.inventory.service import availability
from app.prices.models import PriceEntry

PUBLISH_TASK = "publish_flow"
PUBLISH_CHUNK = 1_000
"""Prices read, turned into changes and queued at a time by a full run: small enough that the memory a
chunk takes is not kept by the worker afterwards (5,000 a chunk grew a worker by 30 MiB for good, 1,000
by 9 MiB), large enough that the round trips do not show."""
BULK_ROWS = 10_000
"""A full run queueing at least this many rows refreshes the queue's planner statistics in its
transaction: planned for the empty queue it was, each claim would sort every due row."""


async def queue_publish(session: AsyncSession, flow: Flow, now: datetime, correlation_id: str | None) -> Run:
    """A queued full run, done by a worker (a 250,000-price publish outlasts any HTTP request)."""
    return await queue_run(session, flow, "full", PUBLISH_TASK, now, correlation_id)


async def publish_all(session: AsyncSession, flow: Flow, run: Run, now: datetime) -> Run:
    """Queue every SKU's stock (inventory) or every price (prices) for each destination; the run
    records how many records were read."""
    destinations = await flow_destinations(session, flow.id)
    correlation_id = run.correlation_id
    read = 0
    if flow.domain == "inventory":
        by_sku = await availability(session, flow.tenant_id)
        read = len(by_sku)
        for destination in destinations:
            await enqueue(
                session,
                flow.tenant_id,
                destination.id,
                stock_changes(flow, destination, by_sku, now, correlation_id),
                now,
            )
    elif flow.domain == "prices":
        # streamed a chunk at a time (a server-side cursor): a 250,000-price list never sits in memory
        # whole, and the worker's other jobs get the event loop between chunks instead of waiting out
        # one long stretch of building changes
        stream = await session.stream_scalars(
            select(PriceEntry)
            .where(PriceEntry.tenant_id == flow.tenant_id)
            .order_by(
                PriceEntry.sku,
                PriceEntry.price_list,
                PriceEntry.channel,
                PriceEntry.region,
                PriceEntry.effective_from,
            )
            .execution_options(yield_per=PUBLISH_CHUNK)
        )
        async for rows in stream.partitions():
            read += len(rows)
            changes: list[Change] = price_changes(flow, [row.to_price() for row in rows], now, correlation_id)
            for row in rows:
                session.expunge(row)
            for destination in destinations:
                await enqueue(session, flow.tenant_id, destination.id, changes, now)
    if read * len(destinations) >= BULK_ROWS:
        # the queue just grew by a bulk: let the planner know before the claims start (app.delivery)
        await session.execute(text("SELECT shelfsync_analyze_delivery_queue()"))
    run.read_count = read
    run.status = "succeeded"
    run.finished_at = now
    await session.flush()
    return run
