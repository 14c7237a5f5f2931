"""How a retailer's flows are doing over the last hour, from stored facts (runs, the delivery queue,
dead letters), and the badge each gets.

Rules, per flow (the first that holds wins):
- **failing**: less than 95 % of the records delivered in the last hour went through, or a dead
  letter was written in the last hour;
- **degraded**: less than 99.5 % went through, or dead letters are still open, or work has been due
  for more than 5 minutes without being delivered, or the flow's last reconciliation found drift, or a
  promotion went live on one of its destinations more than 60 s after its window opened (in the hour);
- **ok**: otherwise (a flow with no traffic is ok).
A retailer's badge is its worst flow's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import DeadLetter, QueuedDelivery
from app.flows.latency import merge, percentile
from app.flows.models import Flow, FlowDestination, Run
from app.promotions.models import PromotionDeployment

WINDOW = timedelta(hours=1)
FAILING_BELOW = 0.95
DEGRADED_BELOW = 0.995
STALE_BACKLOG = timedelta(minutes=5)
LATE_PROMOTION = timedelta(seconds=60)
ORDER = {"ok": 0, "degraded": 1, "failing": 2}


@dataclass
class FlowHealth:
    flow_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    domain: str
    runs: int = 0
    delivered: int = 0
    failed: int = 0
    latency_ms: dict[str, float | None] = field(
        default_factory=lambda: {"p50": None, "p95": None, "p99": None}
    )
    """Received → acknowledged by the destination, per record delivered in the window (histogram edges)."""
    backlog: int = 0
    oldest_due_seconds: float | None = None
    dead_letters_open: int = 0
    dead_letters_recent: int = 0
    drifted: int | None = None
    """Entities the flow's last finished reconciliation found different (None: never reconciled)."""
    promotion_lateness_ms: int | None = None
    """The latest a promotion went live on the flow's destinations, of those deployed in the window."""
    status: str = "ok"
    reasons: list[str] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        total = self.delivered + self.failed
        return None if total == 0 else self.delivered / total

    def judge(self) -> None:
        rate = self.success_rate
        if rate is not None and rate < FAILING_BELOW:
            self.reasons.append(f"{rate:.1%} of records delivered in the last hour")
        if self.dead_letters_recent:
            self.reasons.append(f"{self.dead_letters_recent} dead letter(s) in the last hour")
        if self.reasons:
            self.status = "failing"
            return
        if rate is not None and rate < DEGRADED_BELOW:
            self.reasons.append(f"{rate:.1%} of records delivered in the last hour")
        if self.dead_letters_open:
            self.reasons.append(f"{self.dead_letters_open} open dead letter(s)")
        if self.oldest_due_seconds is not None and self.oldest_due_seconds > STALE_BACKLOG.total_seconds():
            self.reasons.append(f"work due for {self.oldest_due_seconds / 60:.0f} min")
        if self.drifted:
            self.reasons.append(f"the last reconciliation found {self.drifted} drifted")
        late = self.promotion_lateness_ms
        if late is not None and late > LATE_PROMOTION.total_seconds() * 1000:
            self.reasons.append(f"a promotion went live {late / 1000:.0f} s late")
        self.status = "degraded" if self.reasons else "ok"


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=ORDER.__getitem__, default="ok")


def delivery_figures(
    tenant_ids: list[uuid.UUID], since: datetime, until: datetime
) -> Select[uuid.UUID, int, int, int, Sequence[Any]]:
    """Per flow: delivery runs started in [since, until] and finished, records delivered and failed,
    latency histograms. Bounded on both sides by ``started_at``, so it reads only the months of runs
    the window covers (not the empty months made ahead)."""
    return (
        select(
            Run.flow_id,
            func.count(),
            func.coalesce(func.sum(Run.written_count), 0),
            func.coalesce(func.sum(Run.failed_count), 0),
            func.array_agg(Run.details["latency_ms"]),
        )
        .where(
            Run.tenant_id.in_(tenant_ids),
            Run.kind == "delivery",
            Run.started_at >= since,
            Run.started_at <= until,
            Run.finished_at.is_not(None),
        )
        .group_by(Run.flow_id)
    )


async def flow_health(
    session: AsyncSession, tenant_ids: list[uuid.UUID], now: datetime, *, window: timedelta = WINDOW
) -> list[FlowHealth]:
    """Every flow of these retailers with its figures and badge; runs and recent dead letters are
    counted over ``window`` (the badge's hour unless an alert rule asks for another)."""
    flows = {
        flow.id: FlowHealth(flow.id, flow.tenant_id, flow.name, flow.domain)
        for flow in await session.scalars(
            select(Flow).where(Flow.tenant_id.in_(tenant_ids)).order_by(Flow.created_at)
        )
    }
    since = now - window
    histograms: dict[uuid.UUID, list[dict[str, int]]] = {}
    for row in await session.execute(delivery_figures(tenant_ids, since, now)):
        health = flows.get(row[0])
        if health is not None:
            health.runs, health.delivered, health.failed = int(row[1]), int(row[2]), int(row[3])
            histograms[row[0]] = [h for h in row[4] if isinstance(h, dict)]
    for flow_id, found in histograms.items():
        merged = merge(found)
        flows[flow_id].latency_ms = {
            name: percentile(merged, q) for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        }
    for flow_id, backlog, oldest in await session.execute(
        select(FlowDestination.flow_id, func.count(), func.min(QueuedDelivery.due_at))
        .join(FlowDestination, FlowDestination.id == QueuedDelivery.destination_id)
        .where(QueuedDelivery.tenant_id.in_(tenant_ids))
        .group_by(FlowDestination.flow_id)
    ):
        health = flows.get(flow_id)
        if health is not None:
            health.backlog = int(backlog)
            health.oldest_due_seconds = max((now - oldest).total_seconds(), 0) if oldest <= now else None
    for flow_id, open_count, recent in await session.execute(
        select(
            FlowDestination.flow_id,
            func.count(),
            func.count().filter(DeadLetter.created_at >= since),
        )
        .join(FlowDestination, FlowDestination.id == DeadLetter.destination_id)
        .where(DeadLetter.tenant_id.in_(tenant_ids), DeadLetter.status == "open")
        .group_by(FlowDestination.flow_id)
    ):
        health = flows.get(flow_id)
        if health is not None:
            health.dead_letters_open, health.dead_letters_recent = int(open_count), int(recent)
    for flow_id, drifted in await session.execute(
        select(Run.flow_id, Run.details["drifted"].as_integer())
        .where(Run.tenant_id.in_(tenant_ids), Run.kind == "reconcile", Run.finished_at.is_not(None))
        .ext(distinct_on(Run.flow_id))
        .order_by(Run.flow_id, Run.finished_at.desc())
    ):
        if flow_id in flows:
            flows[flow_id].drifted = None if drifted is None else int(drifted)
    for flow_id, lateness in await session.execute(
        select(FlowDestination.flow_id, func.max(PromotionDeployment.lateness_ms))
        .join(FlowDestination, FlowDestination.id == PromotionDeployment.destination_id)
        .where(PromotionDeployment.tenant_id.in_(tenant_ids), PromotionDeployment.deployed_at >= since)
        .group_by(FlowDestination.flow_id)
    ):
        if flow_id in flows and lateness is not None:
            flows[flow_id].promotion_lateness_ms = int(lateness)
    for health in flows.values():
        health.judge()
    return list(flows.values())


async def tenant_badges(
    session: AsyncSession, tenant_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, str]:
    """Each retailer's badge: its worst flow's (ok without flows)."""
    statuses: dict[uuid.UUID, list[str]] = {tenant_id: [] for tenant_id in tenant_ids}
    for health in await flow_health(session, tenant_ids, now):
        statuses[health.tenant_id].append(health.status)
    return {tenant_id: worst(found) for tenant_id, found in statuses.items()}
