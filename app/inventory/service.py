"""Applying stock events to canonical balances: absolute counts (newest source_version wins), movements,
and reservations. Each function returns the SKUs whose availability changed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.upsert import upsert_newest
from app.inventory.models import StockLevel, StockMovementEntry
from connectors.canonical import Reservation, StockBalance, StockMovement


async def apply_balances(
    session: AsyncSession, tenant_id: uuid.UUID, balances: Sequence[StockBalance], now: datetime
) -> list[bool]:
    """Upsert counts; a count older than the stored ``source_version`` changes nothing (False)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "sku": balance.sku,
            "location": balance.location,
            "on_hand": balance.on_hand,
            "reserved": balance.reserved,
            "safety_stock": balance.safety_stock,
            "source_version": balance.source_version,
            "updated_at": now,
        }
        for balance in balances
    ]
    return await upsert_newest(
        session,
        StockLevel.__table__,  # type: ignore[arg-type]
        rows,
        ("tenant_id", "sku", "location"),
        ("on_hand", "reserved", "safety_stock", "source_version", "updated_at"),
    )


async def _add(
    session: AsyncSession, tenant_id: uuid.UUID, sku: str, location: str, now: datetime, **deltas: int
) -> None:
    values = {"on_hand": 0, "reserved": 0} | deltas
    statement = insert(StockLevel).values(
        tenant_id=tenant_id, sku=sku, location=location, updated_at=now, **values
    )
    statement = statement.on_conflict_do_update(
        index_elements=[StockLevel.tenant_id, StockLevel.sku, StockLevel.location],
        set_={
            **{name: getattr(StockLevel, name) + amount for name, amount in deltas.items()},
            "updated_at": now,
        },
    )
    await session.execute(statement)


async def apply_movements(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    movements: Sequence[StockMovement],
    event_ids: Sequence[int],
    now: datetime,
) -> None:
    """Movements change on-hand stock; a transfer moves it from ``location`` to ``to_location``."""
    for movement, event_id in zip(movements, event_ids, strict=True):
        await _add(session, tenant_id, movement.sku, movement.location, now, on_hand=movement.delta)
        if movement.reason == "transfer" and movement.to_location:
            await _add(session, tenant_id, movement.sku, movement.to_location, now, on_hand=-movement.delta)
        session.add(
            StockMovementEntry(
                tenant_id=tenant_id,
                sku=movement.sku,
                location=movement.location,
                delta=movement.delta,
                reason=movement.reason,
                event_id=event_id,
                occurred_at=movement.occurred_at or now,
            )
        )


async def apply_reservations(
    session: AsyncSession, tenant_id: uuid.UUID, reservations: Sequence[Reservation], now: datetime
) -> None:
    """reserve holds stock back; release gives it back; commit ships it (reserved and on hand both drop)."""
    for reservation in reservations:
        quantity = reservation.quantity
        if reservation.action == "reserve":
            await _add(session, tenant_id, reservation.sku, reservation.location, now, reserved=quantity)
        elif reservation.action == "release":
            await _add(session, tenant_id, reservation.sku, reservation.location, now, reserved=-quantity)
        else:
            await _add(
                session,
                tenant_id,
                reservation.sku,
                reservation.location,
                now,
                reserved=-quantity,
                on_hand=-quantity,
            )


async def availability(
    session: AsyncSession, tenant_id: uuid.UUID, skus: Sequence[str] | None = None
) -> dict[str, dict[str, int]]:
    """Available stock per SKU and location (never below zero) for ``skus``, or for every SKU."""
    query = select(StockLevel).where(StockLevel.tenant_id == tenant_id)
    if skus is not None:
        query = query.where(StockLevel.sku.in_(list(set(skus))))
    found: dict[str, dict[str, int]] = {sku: {} for sku in skus or ()}
    for row in await session.scalars(query):
        found.setdefault(row.sku, {})[row.location] = row.available
    return found
