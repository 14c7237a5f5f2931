"""A retailer's SLA report for a billing period: target, measured, breach and credit per objective of
its plan, and the period's total credit (capped by the rate card)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.metering.periods import BillingPeriod
from app.plans.terms import OBJECTIVES, PlanTerms, SlaObjective
from app.sla.measures import Measured, inventory_latency_p95, promotions_on_time, success_rate


@dataclass(frozen=True)
class ObjectiveResult:
    key: str
    label: str
    unit: str
    direction: str
    target: float
    measured: float | None
    samples: int
    breached: bool
    credit_percent: float
    """Credited for this objective (0 unless breached)."""


@dataclass(frozen=True)
class SlaReport:
    tenant_id: uuid.UUID
    tenant_name: str
    plan: str
    period: BillingPeriod
    measured_at: datetime
    """When the figures were read: the period's end, or now for a period in progress."""
    objectives: list[ObjectiveResult] = field(default_factory=list)
    credit_percent: float = 0.0
    """The credit on the period's charges: the breached objectives' credits, at most the cap."""

    @property
    def is_final(self) -> bool:
        return self.measured_at >= self.period.ends_at


def is_breached(direction: str, target: float, measured: float | None) -> bool:
    """A period with nothing to measure breaches nothing."""
    if measured is None:
        return False
    return measured > target if direction == "at_most" else measured < target


async def measure(
    session: AsyncSession, tenant_id: uuid.UUID, objective: SlaObjective, start: datetime, end: datetime
) -> Measured:
    if objective.key == "inventory_latency_p95_s":
        return await inventory_latency_p95(session, tenant_id, start, end)
    if objective.key == "success_rate":
        return await success_rate(session, tenant_id, start, end)
    return await promotions_on_time(
        session, tenant_id, start, end, timedelta(seconds=objective.within_seconds), end
    )


async def sla_report(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    tenant_name: str,
    plan_key: str,
    terms: PlanTerms,
    period: BillingPeriod,
    now: datetime,
) -> SlaReport:
    until = min(now, period.ends_at)
    results = []
    for objective in terms.objectives:
        label, unit, direction = OBJECTIVES[objective.key]
        found = await measure(session, tenant_id, objective, period.starts_at, until)
        breached = is_breached(direction, objective.target, found.value)
        results.append(
            ObjectiveResult(
                objective.key,
                label,
                unit,
                direction,
                objective.target,
                found.value,
                found.samples,
                breached,
                objective.credit_percent if breached else 0.0,
            )
        )
    credit = min(sum(r.credit_percent for r in results), terms.rate_card.credit_cap_percent)
    return SlaReport(tenant_id, tenant_name, plan_key, period, until, results, credit)
