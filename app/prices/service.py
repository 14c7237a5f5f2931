"""Storing prices: one row per SKU, price list, scope and start; a newer source_version wins."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.upsert import K, upsert_newest
from app.prices.models import EVER, PriceEntry
from connectors.canonical import Price


def price_key(price: Price) -> str:
    """The entity a price is: what a newer price of the same key replaces at a destination."""
    start = (price.effective_from or EVER).isoformat()
    return f"{price.sku}|{price.price_list}|{price.channel or ''}|{price.region or ''}|{start}"


async def apply_prices(
    session: AsyncSession, tenant_id: uuid.UUID, prices: Sequence[Price], now: datetime
) -> list[bool]:
    """Upsert prices; one older than the stored ``source_version`` changes nothing (False)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "sku": price.sku,
            "price_list": price.price_list,
            "channel": price.channel or "",
            "region": price.region or "",
            "effective_from": price.effective_from or EVER,
            "effective_to": price.effective_to,
            "currency": price.currency,
            "amount": price.amount,
            "compare_at": price.compare_at,
            "source_version": price.source_version,
            "updated_at": now,
        }
        for price in prices
    ]
    return await upsert_newest(
        session,
        PriceEntry.__table__,  # type: ignore[arg-type]
        rows,
        ("tenant_id", "sku", "price_list", "channel", "region", "effective_from"),
        ("effective_to", "currency", "amount", "compare_at", "source_version", "updated_at"),
    )


async def prices_in_force(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    at: datetime,
    key: Callable[[PriceEntry], K],
    *,
    skus: Sequence[str] | None = None,
    **scope: str,
) -> dict[K, PriceEntry]:
    """The prices in force at ``at`` (started, not ended), one per ``key`` of a row: the latest start
    wins. ``scope`` narrows by column (``price_list="default", channel=""``)."""
    query = select(PriceEntry).where(
        PriceEntry.tenant_id == tenant_id,
        PriceEntry.effective_from <= at,
        PriceEntry.effective_to.is_(None) | (PriceEntry.effective_to > at),
        *(getattr(PriceEntry, column) == value for column, value in scope.items()),
    )
    if skus is not None:
        query = query.where(PriceEntry.sku.in_(list(skus)))
    current: dict[K, PriceEntry] = {}
    for row in await session.scalars(query):
        k = key(row)
        if k not in current or row.effective_from > current[k].effective_from:
            current[k] = row
    return current
