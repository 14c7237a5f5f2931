"""Storing items (newest source_version wins) and reading their unit costs for the margin rule."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.upsert import upsert_newest
from app.items.models import ItemEntry
from connectors.canonical import Item


async def apply_items(
    session: AsyncSession, tenant_id: uuid.UUID, items: Sequence[Item], now: datetime
) -> list[bool]:
    rows = [
        {
            "tenant_id": tenant_id,
            "sku": item.sku,
            "title": item.title,
            "gtin": item.gtin,
            "unit_cost": item.unit_cost.amount if item.unit_cost else None,
            "cost_currency": item.unit_cost.currency if item.unit_cost else None,
            "is_sellable": item.is_sellable,
            "attributes": item.attributes,
            "source_version": item.source_version,
            "updated_at": now,
        }
        for item in items
    ]
    return await upsert_newest(
        session,
        ItemEntry.__table__,  # type: ignore[arg-type]
        rows,
        ("tenant_id", "sku"),
        (
            "title",
            "gtin",
            "unit_cost",
            "cost_currency",
            "is_sellable",
            "attributes",
            "source_version",
            "updated_at",
        ),
    )


async def unit_costs(
    session: AsyncSession, tenant_id: uuid.UUID, skus: Sequence[str]
) -> dict[str, tuple[Decimal, str]]:
    """Known unit costs (amount, currency) of ``skus``."""
    rows = await session.execute(
        select(ItemEntry.sku, ItemEntry.unit_cost, ItemEntry.cost_currency).where(
            ItemEntry.tenant_id == tenant_id,
            ItemEntry.sku.in_(list(set(skus))),
            ItemEntry.unit_cost.is_not(None),
        )
    )
    return {sku: (cost, currency) for sku, cost, currency in rows.all() if cost is not None and currency}
