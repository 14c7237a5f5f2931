"""Applying channel orders: keep the latest state of each order (newest source_version wins) and move
stock with it — an open order reserves its lines, a shipped one commits them (on hand and reserved
both drop), a cancelled one releases them. Each order moves its stock once per step, whatever how often
the same status is sent."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.inventory.service import apply_reservations
from app.orders.models import ChannelOrder
from connectors.canonical import Order, Reservation, to_builtins
from connectors.canonical.stock import ReservationAction

OPEN = frozenset({"pending", "confirmed", "allocated"})
SHIPPED = frozenset({"shipped", "delivered", "completed"})
RELEASED = frozenset({"cancelled", "returned"})


def wanted_stock_state(status: str) -> str:
    if status in OPEN:
        return "reserved"
    if status in SHIPPED:
        return "committed"
    return "released"


def _reservations(order: Order, action: ReservationAction) -> list[Reservation]:
    found = []
    for line in order.lines:
        location = line.location or order.fulfilment.location
        if location:
            found.append(
                Reservation(
                    order_id=order.order_id,
                    sku=line.sku,
                    location=location,
                    quantity=line.quantity,
                    action=action,
                )
            )
    return found


STEPS: dict[tuple[str, str], tuple[ReservationAction, ...]] = {
    ("none", "reserved"): ("reserve",),
    ("none", "committed"): ("reserve", "commit"),
    ("reserved", "committed"): ("commit",),
    ("reserved", "released"): ("release",),
}
"""Stock actions to go from one stock state to another; any pair not listed moves no stock."""


async def apply_orders(
    session: AsyncSession, tenant_id: uuid.UUID, orders: Sequence[Order], now: datetime
) -> tuple[list[bool], set[str]]:
    """Store each order's latest state; returns whether each was applied (False: older than stored)
    and the SKUs whose stock moved."""
    applied: list[bool] = []
    moved: set[str] = set()
    for order in orders:
        row = await session.get(
            ChannelOrder, (tenant_id, order.channel, order.order_id), with_for_update=True
        )
        stored_version = row.source_version if row is not None else None
        if (
            stored_version is not None
            and order.source_version is not None
            and order.source_version <= stored_version
        ):
            applied.append(False)
            continue
        before = row.stock_state if row else "none"
        after = wanted_stock_state(order.status)
        steps = STEPS.get((before, after), ())
        for action in steps:
            reservations = _reservations(order, action)
            await apply_reservations(session, tenant_id, reservations, now)
            moved |= {r.sku for r in reservations}
        if row is None:
            row = ChannelOrder(tenant_id=tenant_id, channel=order.channel, order_id=order.order_id)
            session.add(row)
        row.status = order.status
        row.stock_state = after if steps or before == "none" else before
        row.source_version = order.source_version
        row.payload = to_builtins(order)
        row.updated_at = now
        applied.append(True)
    await session.flush()
    return applied, moved


async def stored_order(
    session: AsyncSession, tenant_id: uuid.UUID, channel: str, order_id: str
) -> ChannelOrder | None:
    return await session.scalar(
        select(ChannelOrder).where(
            ChannelOrder.tenant_id == tenant_id,
            ChannelOrder.channel == channel,
            ChannelOrder.order_id == order_id,
        )
    )
