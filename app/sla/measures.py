"""Each SLA objective measured from the stored facts of a period, never from counters that can drift:

- **inventory latency p95**: the latency histograms kept on every finished delivery run of the
  retailer's inventory flows that started in the period, merged (received → acknowledged per record;
  the answer is its bucket's upper edge, at most 10 % above the true value);
- **success rate**: records the destinations took over records they refused, over the same runs of
  every flow;
- **promotions on time**: of the promotion deployments whose window opened in the period, the share
  live within the objective's allowance. A deployment counts once it was deployed, or once it is
  overdue (still pending or failed past the allowance); one paused or rolled back before it went live
  was the retailer's choice and does not count.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.flows.latency import merge, percentile
from app.flows.models import Flow, Run
from app.promotions.models import PromotionDeployment, PromotionEntry


@dataclass(frozen=True)
class Measured:
    value: float | None
    """None when the period had nothing to measure (no records, no deployments)."""
    samples: int


def _delivery_runs(tenant_id: uuid.UUID, start: datetime, end: datetime) -> tuple[object, ...]:
    return (
        Run.tenant_id == tenant_id,
        Run.kind == "delivery",
        Run.finished_at.is_not(None),
        Run.started_at >= start,
        Run.started_at < end,
    )


async def inventory_latency_p95(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> Measured:
    histograms = await session.scalars(
        select(Run.details["latency_ms"])
        .join(Flow, Flow.id == Run.flow_id)
        .where(*_delivery_runs(tenant_id, start, end), Flow.domain == "inventory")  # type: ignore[arg-type]
    )
    merged = merge(h for h in histograms if isinstance(h, dict))
    p95 = percentile(merged, 0.95)
    return Measured(None if p95 is None else p95 / 1000, sum(merged.values()))


async def success_rate(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime
) -> Measured:
    delivered, failed = (
        await session.execute(
            select(
                func.coalesce(func.sum(Run.written_count), 0), func.coalesce(func.sum(Run.failed_count), 0)
            ).where(*_delivery_runs(tenant_id, start, end))  # type: ignore[arg-type]
        )
    ).one()
    total = int(delivered) + int(failed)
    return Measured(None if total == 0 else 100 * int(delivered) / total, total)


async def promotions_on_time(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    start: datetime,
    end: datetime,
    within: timedelta,
    now: datetime,
) -> Measured:
    allowance_ms = within.total_seconds() * 1000
    counted, on_time = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(PromotionDeployment.lateness_ms <= allowance_ms),
            )
            .join(PromotionEntry, PromotionEntry.id == PromotionDeployment.promotion_id)
            .where(
                PromotionDeployment.tenant_id == tenant_id,
                PromotionEntry.starts_at >= start,
                PromotionEntry.starts_at < end,
                or_(
                    PromotionDeployment.lateness_ms.is_not(None),
                    and_(
                        PromotionDeployment.status.in_(("pending", "failed")),
                        PromotionEntry.starts_at <= now - within,
                    ),
                ),
            )
        )
    ).one()
    return Measured(None if not counted else 100 * int(on_time) / int(counted), int(counted))
