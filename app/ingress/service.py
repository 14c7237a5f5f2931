"""Accepting a batch of events: validate each item, drop duplicates, apply the rest to canonical state,
and queue the changes for every destination — all in the caller's transaction, so a 2xx means stored.

A bad item is reported with its index, field and reason and never blocks its neighbours.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.partitions import MONTHS_AHEAD, Partition, add_months, list_partitions, month_start
from app.delivery.queue import Change, destinations_of, enqueue, nudge
from app.flows.changes import flow_settings, price_changes, stock_changes
from app.flows.models import Flow, FlowDestination
from app.flows.settings import FlowSettings
from app.ingress.models import IngressEvent, IngressEventKey
from app.inventory.service import apply_balances, apply_movements, apply_reservations, availability
from app.items.service import apply_items, unit_costs
from app.orders.service import apply_orders
from app.prices.service import apply_prices
from connectors.canonical import (
    CanonicalError,
    Item,
    Order,
    Price,
    Record,
    Reservation,
    StockBalance,
    StockMovement,
    parse,
    to_builtins,
)

DOMAINS = ("items", "inventory", "prices", "orders")
MAX_ITEMS = 10_000


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    stale: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, index: int, path: str, reason: str) -> None:
        self.rejected += 1
        self.errors.append({"index": index, "field": path, "reason": reason})


def inventory_type(item: Any) -> type[Record]:
    """Which stock record an inventory item is: a movement has ``delta``, a reservation ``order_id``."""
    if isinstance(item, dict) and "delta" in item:
        return StockMovement
    if isinstance(item, dict) and "order_id" in item:
        return Reservation
    return StockBalance


RECORD_NAMES: dict[type[Record], str] = {
    Item: "item",
    StockBalance: "stock_balance",
    StockMovement: "stock_movement",
    Reservation: "reservation",
    Price: "price",
    Order: "order",
}


DOMAIN_RECORDS: dict[str, type[Record]] = {"items": Item, "prices": Price, "orders": Order}
"""The record each stream carries (inventory items are told apart by their fields)."""


def dedup_key(record: Record, record_type: str) -> str:
    """The source's own identity when it gives one (source, id, version), else the content's digest."""
    if record.source_id is not None:
        return f"{record_type}:{record.source or ''}:{record.source_id}:{record.source_version or ''}"[:200]
    content = json.dumps(to_builtins(record), sort_keys=True, separators=(",", ":"))
    return f"{record_type}:sha256:{hashlib.sha256(content.encode()).hexdigest()}"


async def _months_stored(
    session: AsyncSession, times: Sequence[datetime | None], now: datetime
) -> list[Partition]:
    """The months ``stock_movements`` holds when a movement falls outside the ones always there (this
    month and the next ``MONTHS_AHEAD``); no query otherwise (the common case)."""
    first = month_start(now)
    always = Partition("", first, add_months(first, MONTHS_AHEAD + 1))
    if all(t is None or _is_stored(t, [always]) for t in times):
        return [always]
    return await list_partitions(session, "stock_movements")


def _is_stored(at: datetime, months: Sequence[Partition]) -> bool:
    """A row at ``at`` has a partition to go to (there is no DEFAULT one: app.database.partitions)."""
    return any(month.starts_at <= at < month.ends_at for month in months)


def _parse(domain: str, index: int, item: Any, outcome: IngestOutcome) -> Record | None:
    record_class = inventory_type(item) if domain == "inventory" else DOMAIN_RECORDS[domain]
    try:
        record = parse(record_class, item)
    except CanonicalError as error:
        outcome.reject(index, error.path, error.reason)
        return None
    if isinstance(record, StockMovement | Reservation) and record.source_id is None:
        outcome.reject(
            index, "source_id", "movements and reservations need a unique source_id to be counted once"
        )
        return None
    return record


async def ingest(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    domain: str,
    items: Sequence[Any],
    *,
    now: datetime,
    correlation_id: str | None = None,
    flow_id: uuid.UUID | None = None,
) -> IngestOutcome:
    outcome = IngestOutcome()
    targets = await destinations_of(session, tenant_id, domain, flow_id)
    records: list[tuple[int, Record, str]] = []
    seen: set[str] = set()
    parsed = [(index, _parse(domain, index, item, outcome)) for index, item in enumerate(items)]
    costs: dict[str, tuple[Decimal, str]] = {}
    # each flow's guard settings once (a flow appears once per destination), not once per price
    guards = list({flow.id: (flow.name, flow_settings(flow)) for flow, _ in targets}.values())
    if domain == "prices" and any(settings.min_margin_percent is not None for _, settings in guards):
        costs = await unit_costs(session, tenant_id, [r.sku for _, r in parsed if isinstance(r, Price)])
    stored = await _months_stored(
        session, [r.occurred_at for _, r in parsed if isinstance(r, StockMovement)], now
    )
    for index, record in parsed:
        if record is None:
            continue
        if (
            isinstance(record, StockMovement)
            and record.occurred_at
            and not _is_stored(record.occurred_at, stored)
        ):
            outcome.reject(
                index,
                "occurred_at",
                "outside the months movements are kept for (the retention window, and 3 months ahead)",
            )
            continue
        if isinstance(record, Price):
            problem = price_guard(record, guards, costs.get(record.sku))
            if problem:
                outcome.reject(index, *problem)
                continue
        record_type = RECORD_NAMES[type(record)]
        key = dedup_key(record, record_type)
        if key in seen:
            outcome.duplicate += 1
            continue
        seen.add(key)
        records.append((index, record, key))
    if not records:
        return outcome

    by_key = sorted(records, key=lambda entry: entry[2])  # key order: concurrent batches cannot deadlock
    # the key first, in its own unpartitioned table (see app.ingress.models): a key already there is a
    # duplicate, and a concurrent batch with the same key waits on it here until this one commits
    keys = IngressEventKey.__table__.c
    claimed = await session.execute(
        insert(IngressEventKey.__table__)  # type: ignore[arg-type]
        .on_conflict_do_nothing(index_elements=[keys.tenant_id, keys.domain, keys.dedup_key])
        .returning(keys.dedup_key),
        [
            {"tenant_id": tenant_id, "domain": domain, "dedup_key": key, "received_at": now}
            for _, _, key in by_key
        ],
    )
    new_keys = set(claimed.scalars())
    events = IngressEvent.__table__.c
    # executemany of a one-row INSERT: compiled once, sent in multi-row pages (see app.database.upsert)
    new_ids: dict[str, int] = {}
    if new_keys:
        inserted = await session.execute(
            insert(IngressEvent.__table__).returning(events.dedup_key, events.id),  # type: ignore[arg-type]
            [
                {
                    "tenant_id": tenant_id,
                    "domain": domain,
                    "dedup_key": key,
                    "record_type": RECORD_NAMES[type(record)],
                    "payload": to_builtins(record),
                    "outcome": "applied",
                    "correlation_id": record.correlation_id or correlation_id,
                    "received_at": now,
                }
                for _, record, key in by_key
                if key in new_keys
            ],
        )
        new_ids = {row[0]: row[1] for row in inserted}
    fresh = [(index, record, key, new_ids[key]) for index, record, key in records if key in new_ids]
    outcome.duplicate += len(records) - len(fresh)
    outcome.accepted = len(fresh)

    stale_keys = await _apply(
        session, tenant_id, domain, fresh, targets, now=now, correlation_id=correlation_id
    )
    outcome.stale = len(stale_keys)
    if stale_keys:
        await session.execute(
            update(IngressEvent)
            .where(
                IngressEvent.tenant_id == tenant_id,
                IngressEvent.domain == domain,
                IngressEvent.dedup_key.in_(stale_keys),
                IngressEvent.received_at == now,  # this batch's rows, in this month's partition only
            )
            .values(outcome="stale")
        )
    return outcome


async def _apply(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    domain: str,
    fresh: list[tuple[int, Record, str, int]],
    targets: list[tuple[Flow, FlowDestination]],
    *,
    now: datetime,
    correlation_id: str | None,
) -> list[str]:
    """Apply in arrival order; returns the dedup keys of records older than what is stored."""
    stale: list[str] = []
    changes: dict[uuid.UUID, list[Change]] = {}
    if domain == "inventory":
        balances = [(r, k) for _, r, k, _ in fresh if isinstance(r, StockBalance)]
        applied = await apply_balances(session, tenant_id, [r for r, _ in balances], now)
        stale = [k for (_, k), ok in zip(balances, applied, strict=True) if not ok]
        movements = sorted(
            ((r, event_id) for _, r, _, event_id in fresh if isinstance(r, StockMovement)),
            key=lambda entry: (entry[0].sku, entry[0].location),
        )
        await apply_movements(session, tenant_id, [r for r, _ in movements], [e for _, e in movements], now)
        await apply_reservations(
            session, tenant_id, [r for _, r, _, _ in fresh if isinstance(r, Reservation)], now
        )
        touched = sorted({r.sku for _, r, k, _ in fresh if k not in stale})  # type: ignore[attr-defined]
        if touched and targets:
            by_sku = await availability(session, tenant_id, touched)
            for flow, destination in targets:
                changes[destination.id] = stock_changes(flow, destination, by_sku, now, correlation_id)
    elif domain == "items":
        entries = [(r, k) for _, r, k, _ in fresh if isinstance(r, Item)]
        applied = await apply_items(session, tenant_id, [r for r, _ in entries], now)
        stale = [k for (_, k), ok in zip(entries, applied, strict=True) if not ok]
        current_items = [r for r, k in entries if k not in stale]
        for flow, destination in targets:
            due = now + timedelta(seconds=flow_settings(flow).batch_window_seconds)
            changes[destination.id] = [
                Change(
                    item.sku,
                    "item",
                    to_builtins(item),
                    due,
                    correlation_id=item.correlation_id or correlation_id,
                )
                for item in current_items
            ]
    elif domain == "prices":
        prices = [(r, k) for _, r, k, _ in fresh if isinstance(r, Price)]
        applied = await apply_prices(session, tenant_id, [r for r, _ in prices], now)
        stale = [k for (_, k), ok in zip(prices, applied, strict=True) if not ok]
        current = [r for (r, k) in prices if k not in stale]
        for flow, destination in targets:
            changes[destination.id] = price_changes(flow, current, now, correlation_id)
    else:
        orders = [(r, k) for _, r, k, _ in fresh if isinstance(r, Order)]
        applied, moved = await apply_orders(session, tenant_id, [o for o, _ in orders], now)
        stale = [k for (_, k), ok in zip(orders, applied, strict=True) if not ok]
        current_orders = [o for o, k in orders if k not in stale]
        for _, destination in targets:
            changes[destination.id] = [
                Change(
                    f"order|{o.channel}|{o.order_id}",
                    "order",
                    to_builtins(o),
                    now,
                    True,
                    o.correlation_id or correlation_id,
                )
                for o in current_orders
            ]
        if moved:  # orders reserve, commit or release stock: the channels' availability follows
            by_sku = await availability(session, tenant_id, sorted(moved))
            for flow, destination in await destinations_of(session, tenant_id, "inventory"):
                changes[destination.id] = stock_changes(flow, destination, by_sku, now, correlation_id)
    urgent: list[uuid.UUID] = []
    for destination_id, destination_changes in changes.items():
        await enqueue(session, tenant_id, destination_id, destination_changes, now)
        if any(c.is_urgent for c in destination_changes):
            urgent.append(destination_id)
    await nudge(session, tenant_id, urgent, correlation_id)
    return stale


def price_guard(
    price: Price, guards: Sequence[tuple[str, FlowSettings]], cost: tuple[Decimal, str] | None = None
) -> tuple[str, str] | None:
    """A price below a flow's floor, or whose margin over the item's unit cost (in the same currency)
    is below the flow's minimum, is refused; the model already refuses negatives and unknown currencies."""
    for flow_name, settings in guards:
        if settings.price_floor is not None and price.amount < settings.price_floor:
            return (
                "amount",
                f"{price.amount} is below the floor {settings.price_floor} of flow {flow_name!r}",
            )
        minimum = settings.min_margin_percent
        if minimum is not None and cost is not None and cost[1] == price.currency:
            margin = (price.amount - cost[0]) / price.amount * 100 if price.amount else Decimal(-100)
            if margin < minimum:
                return (
                    "amount",
                    f"margin {margin:.1f}% over the unit cost {cost[0].normalize():f} {cost[1]} is below the"
                    f" minimum {minimum}% of flow {flow_name!r}",
                )
    return None
