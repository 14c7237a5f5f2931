"""The rules a promotion must pass before it can be approved. Each failure names its rule and the
offending SKUs (or locations, channels, promotions), so a merchandiser can fix them in one pass."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.flows.changes import flow_settings
from app.flows.models import Flow
from app.inventory.models import StockLevel
from app.items.models import ItemEntry
from app.prices.service import prices_in_force
from app.promotions.models import PromotionEntry
from app.promotions.pricing import eligible_skus, promoted_price
from connectors.canonical import Promotion, parse
from connectors.canonical.promotion import Bundle, BuyXGetY

LIVE_STATES = ("validated", "approved", "scheduled", "activating", "active", "paused")
"""States in which a promotion holds its SKUs and channels (for the overlap rule)."""


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    message: str
    subjects: list[str] = field(default_factory=list)


@dataclass
class ValidationReport:
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": [asdict(f) for f in self.failures]}


async def validate_promotion(
    session: AsyncSession, entry: PromotionEntry, *, min_available: int = 1
) -> ValidationReport:
    promotion = parse(Promotion, entry.spec)
    tenant_id = entry.tenant_id
    report = ValidationReport()
    skus = eligible_skus(promotion)

    items = {
        row.sku: row
        for row in (
            await session.scalars(
                select(ItemEntry).where(ItemEntry.tenant_id == tenant_id, ItemEntry.sku.in_(skus))
            )
        ).all()
    }
    unknown = [sku for sku in skus if sku not in items]
    if unknown:
        report.failures.append(RuleFailure("skus_exist", "these SKUs are not known items", unknown))
    not_sellable = [sku for sku in skus if sku in items and not items[sku].is_sellable]
    if not_sellable:
        report.failures.append(RuleFailure("skus_sellable", "these SKUs are not sellable", not_sellable))

    known_locations = set(
        (
            await session.scalars(
                select(StockLevel.location).where(StockLevel.tenant_id == tenant_id).distinct()
            )
        ).all()
    )
    missing_locations = sorted(set(promotion.eligibility.locations) - known_locations)
    if missing_locations:
        report.failures.append(
            RuleFailure("locations_exist", "no stock is known at these locations", missing_locations)
        )
    channels = set(
        (await session.scalars(select(Connection.name).where(Connection.tenant_id == tenant_id))).all()
    )
    missing_channels = sorted(set(promotion.eligibility.channels) - channels)
    if missing_channels:
        report.failures.append(
            RuleFailure("channels_exist", "no connection has these names", missing_channels)
        )

    await _price_rules(session, tenant_id, promotion, skus, items, report)
    await _overlap_rule(session, entry, promotion, skus, report)
    await _stock_rule(session, tenant_id, promotion, skus, min_available, report)
    return report


async def _price_rules(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    promotion: Promotion,
    skus: list[str],
    items: dict[str, ItemEntry],
    report: ValidationReport,
) -> None:
    flows = (
        await session.scalars(select(Flow).where(Flow.tenant_id == tenant_id, Flow.domain == "prices"))
    ).all()
    floors = [s.price_floor for s in map(flow_settings, flows) if s.price_floor is not None]
    margins = [s.min_margin_percent for s in map(flow_settings, flows) if s.min_margin_percent is not None]
    current = await prices_in_force(
        session,
        tenant_id,
        promotion.window.starts_at,
        lambda row: row.sku,
        skus=skus,
        price_list="default",
        channel="",
        region="",
    )
    if isinstance(promotion.rule, BuyXGetY | Bundle):
        report.failures.append(
            RuleFailure(
                "deployable",
                "buy-x-get-y and bundle rules price baskets; promotions are deployed as a price per SKU "
                "(percent off, amount off, fixed price)",
            )
        )
        return
    unpriced = [sku for sku in skus if sku not in current]
    if unpriced:
        report.failures.append(
            RuleFailure("priced", "these SKUs have no regular price to promote from", unpriced)
        )
    below_floor, below_margin = [], []
    for sku, row in sorted(current.items()):
        price = promoted_price(promotion, row.amount, row.currency)
        if price is None:
            continue
        if price < 0 or any(price < floor for floor in floors):
            below_floor.append(sku)
            continue
        item = items.get(sku)
        if (
            margins
            and item
            and item.unit_cost is not None
            and item.cost_currency == row.currency
            and price > 0
        ):
            margin = (price - item.unit_cost) / price * 100
            if margin < max(margins):
                below_margin.append(sku)
    if below_floor:
        report.failures.append(
            RuleFailure("price_floor", "the promotional price is below the price floor", below_floor)
        )
    if below_margin:
        report.failures.append(
            RuleFailure(
                "margin", f"the promotional price leaves less than {max(margins)}% margin", below_margin
            )
        )


def _overlaps(a: Promotion, b: Promotion, skus_a: set[str]) -> bool:
    if a.window.ends_at <= b.window.starts_at or b.window.ends_at <= a.window.starts_at:
        return False
    skus_b = set(b.eligibility.skus) - set(b.exclusions.skus)
    channels_a, channels_b = set(a.eligibility.channels), set(b.eligibility.channels)
    same_skus = not skus_a or not skus_b or bool(skus_a & skus_b)
    same_channels = not channels_a or not channels_b or bool(channels_a & channels_b)
    return same_skus and same_channels


async def _overlap_rule(
    session: AsyncSession,
    entry: PromotionEntry,
    promotion: Promotion,
    skus: list[str],
    report: ValidationReport,
) -> None:
    others = (
        await session.scalars(
            select(PromotionEntry).where(
                PromotionEntry.tenant_id == entry.tenant_id,
                PromotionEntry.id != entry.id,
                PromotionEntry.state.in_(LIVE_STATES),
            )
        )
    ).all()
    clashing = []
    for other in others:
        other_promotion = parse(Promotion, other.spec)
        if promotion.is_stackable and other_promotion.is_stackable:
            continue
        if _overlaps(promotion, other_promotion, set(skus)):
            clashing.append(other.code)
    if clashing:
        report.failures.append(
            RuleFailure(
                "no_overlap", "overlaps these promotions on the same SKUs and channels", sorted(clashing)
            )
        )


async def _stock_rule(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    promotion: Promotion,
    skus: list[str],
    min_available: int,
    report: ValidationReport,
) -> None:
    levels = (
        await session.scalars(
            select(StockLevel).where(StockLevel.tenant_id == tenant_id, StockLevel.sku.in_(skus))
        )
    ).all()
    locations = set(promotion.eligibility.locations)
    available: dict[str, int] = dict.fromkeys(skus, 0)
    for level in levels:
        if not locations or level.location in locations:
            available[level.sku] += level.available
    short = [sku for sku, units in sorted(available.items()) if units < min_available]
    if short:
        report.failures.append(
            RuleFailure(
                "enough_stock", f"less than {min_available} units available for the expected uplift", short
            )
        )
