"""Live promotions over regular price deliveries: while a promotion is live on a destination, a regular
price sent there for one of its SKUs (a new price from the ERP, a full publish, a reconcile correction)
goes out as the promotional price computed from it, so an ordinary price change cannot end a promotion
on one channel early. Restoring (pause, rollback, expiry) sends the regular prices then in force."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.promotions.models import PromotionDeployment, PromotionEntry
from app.promotions.pricing import eligible_skus, promoted_price
from connectors.canonical import Price, Promotion, Record, parse

GOING_LIVE_STATES = ("activating", "active")
"""States in which a promotion prices its SKUs on the destinations it is live on."""


@dataclass(frozen=True)
class Overlay:
    """SKU → the live promotion that prices it on one destination (and the stores it is limited to)."""

    rules: dict[str, tuple[Promotion, frozenset[str]]] = field(default_factory=dict)

    def price(self, price: Price) -> Price:
        """The price to send: promoted if a live promotion covers it, else as it is."""
        hit = self.rules.get(price.sku)
        if hit is None or price.price_list != "default" or price.region:
            return price
        promotion, stores = hit
        if price.channel and stores and price.channel not in stores:
            return price
        amount = promoted_price(promotion, price.amount, price.currency)
        if amount is None or amount < 0:
            return price
        return msgspec.structs.replace(price, amount=amount)

    def records(self, records: Sequence[Record]) -> list[Record]:
        if not self.rules:
            return list(records)
        return [self.price(r) if isinstance(r, Price) else r for r in records]


async def live_overlay(session: AsyncSession, destination_id: uuid.UUID) -> Overlay:
    """The promotions live (or going live) on a destination; the earliest proposed wins a shared SKU."""
    entries = await session.scalars(
        select(PromotionEntry)
        .join(PromotionDeployment, PromotionDeployment.promotion_id == PromotionEntry.id)
        .where(
            PromotionDeployment.destination_id == destination_id,
            PromotionDeployment.goal == "live",
            PromotionEntry.state.in_(GOING_LIVE_STATES),
        )
        .order_by(PromotionEntry.created_at)
    )
    rules: dict[str, tuple[Promotion, frozenset[str]]] = {}
    for entry in entries:
        promotion = parse(Promotion, entry.spec)
        stores = frozenset(promotion.eligibility.locations)
        for sku in eligible_skus(promotion):
            rules.setdefault(sku, (promotion, stores))
    return Overlay(rules)
