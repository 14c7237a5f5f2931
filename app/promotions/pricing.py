"""The prices a promotion puts in front of a destination, and the regular prices it restores.

A promotion whose rule prices single SKUs (percent off, amount off, fixed price) is deployed as a price per
SKU, so every destination that takes prices can carry it and be read back; the regular price in force
(the default price list, no channel or region) is what it is computed from and what restoring sends.
A store-file destination gets one row per SKU and store, with the store as the price's channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.prices.models import plain
from app.prices.service import prices_in_force
from connectors.canonical import Price, Promotion
from connectors.canonical.currencies import MINOR_UNITS
from connectors.canonical.promotion import AmountOff, FixedPrice, PercentOff

Goal = str
"""``live`` (the promotional prices) or ``restored`` (the regular ones)."""

PriceKey = tuple[str, str | None]
"""(sku, store) — the store is None for a destination that takes one price per SKU."""


def promoted_price(promotion: Promotion, price: Decimal, currency: str = "EUR") -> Decimal | None:
    """The price a shopper pays under the promotion's rule, rounded half-up to the currency's minor
    unit; None where the rule prices baskets (buy-x-get-y, bundles) rather than single SKUs."""
    rule = promotion.rule
    if isinstance(rule, PercentOff):
        value = price * (100 - rule.percent) / 100
    elif isinstance(rule, AmountOff):
        value = price - rule.amount.amount
    elif isinstance(rule, FixedPrice):
        value = rule.price.amount
    else:
        return None
    return value.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)), rounding=ROUND_HALF_UP)


def eligible_skus(promotion: Promotion) -> list[str]:
    return sorted(set(promotion.eligibility.skus) - set(promotion.exclusions.skus))


@dataclass(frozen=True)
class PriceBook:
    """Per SKU: the regular price now in force and the promotional price computed from it."""

    regular: dict[str, Price]
    promoted: dict[str, Price]
    unpriced: list[str]
    """Eligible SKUs with no regular price (or a rule that cannot price them): left out of deployments."""

    def records(self, goal: Goal, stores: Iterable[str] | None) -> dict[str | None, list[Price]]:
        """What to send, grouped by store (one group, ``None``, for a destination without stores)."""
        chosen = self.promoted if goal == "live" else self.regular
        if stores is None:
            return {None: list(chosen.values())}
        return {
            store: [
                Price(sku=p.sku, amount=p.amount, currency=p.currency, channel=store) for p in chosen.values()
            ]
            for store in stores
        }

    def expected(self, goal: Goal, stores: Iterable[str] | None) -> dict[PriceKey, Decimal]:
        """What reading the destination back must find."""
        chosen = self.promoted if goal == "live" else self.regular
        if stores is None:
            return {(sku, None): price.amount for sku, price in chosen.items()}
        return {(sku, store): price.amount for store in stores for sku, price in chosen.items()}


async def price_book(
    session: AsyncSession, tenant_id: uuid.UUID, promotion: Promotion, now: datetime
) -> PriceBook:
    skus = eligible_skus(promotion)
    current = await prices_in_force(
        session, tenant_id, now, lambda row: row.sku, skus=skus, price_list="default", channel="", region=""
    )
    regular: dict[str, Price] = {}
    promoted: dict[str, Price] = {}
    for sku in skus:
        row = current.get(sku)
        if row is None:
            continue
        amount = promoted_price(promotion, row.amount, row.currency)
        if amount is None or amount < 0:
            continue
        regular[sku] = Price(sku=sku, amount=plain(row.amount), currency=row.currency)
        promoted[sku] = Price(sku=sku, amount=amount, currency=row.currency)
    return PriceBook(regular, promoted, [sku for sku in skus if sku not in promoted])
