"""Evaluating every enabled alert rule against the flows' health figures (``app/flows/health.py``):
open an incident when a condition first holds, leave it while it keeps holding, resolve it when it
stops. Each change commits with its notifications, alone, so a crash loses or repeats none, and a
failing tenant cannot hold up another's alerts."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.metrics import METRICS, holds
from app.alerts.models import AlertIncident, AlertRule
from app.alerts.notifications import AlertSubject, queue_notifications
from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.health import FlowHealth, flow_health
from tenants.models import Partner, Tenant

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one evaluation found for a rule × flow, and whether an incident was open then."""

    rule_id: uuid.UUID
    rule_updated_at: datetime
    subject: AlertSubject
    value: float | None
    is_holding: bool
    open_incident_id: uuid.UUID | None


@dataclass(slots=True)
class EvaluationReport:
    checked: int = 0
    opened: int = 0
    resolved: int = 0


async def _verdicts(session: AsyncSession, now: datetime) -> list[Verdict]:
    """Every enabled rule against every flow it covers, from one read of the facts."""
    rules = (
        await session.scalars(
            select(AlertRule).where(AlertRule.is_enabled.is_(True)).order_by(AlertRule.created_at)
        )
    ).all()
    if not rules:
        return []
    # one health read per distinct window, for the tenants whose rules use it
    tenants_by_window: dict[int, set[uuid.UUID]] = defaultdict(set)
    for rule in rules:
        tenants_by_window[rule.window_seconds].add(rule.tenant_id)
    figures: dict[int, dict[uuid.UUID, list[FlowHealth]]] = {}
    for window, tenant_ids in tenants_by_window.items():
        by_tenant: dict[uuid.UUID, list[FlowHealth]] = defaultdict(list)
        for health in await flow_health(session, sorted(tenant_ids), now, window=timedelta(seconds=window)):
            by_tenant[health.tenant_id].append(health)
        figures[window] = by_tenant
    names = {
        tenant_id: (tenant_name, partner_id, partner_name)
        for tenant_id, tenant_name, partner_id, partner_name in await session.execute(
            select(Tenant.id, Tenant.name, Partner.id, Partner.name)
            .join(Partner, Partner.id == Tenant.partner_id)
            .where(Tenant.id.in_({rule.tenant_id for rule in rules}))
        )
    }
    open_incidents = {
        (rule_id, flow_id): incident_id
        for incident_id, rule_id, flow_id in await session.execute(
            select(AlertIncident.id, AlertIncident.rule_id, AlertIncident.flow_id).where(
                AlertIncident.resolved_at.is_(None),
                AlertIncident.rule_id.in_([rule.id for rule in rules]),
            )
        )
    }
    verdicts = []
    for rule in rules:
        tenant_name, partner_id, partner_name = names[rule.tenant_id]
        for health in figures[rule.window_seconds][rule.tenant_id]:
            if rule.flow_id is not None and health.flow_id != rule.flow_id:
                continue
            value = METRICS[rule.metric].measure(health)
            verdicts.append(
                Verdict(
                    rule.id,
                    rule.updated_at,
                    AlertSubject(
                        rule.tenant_id, tenant_name, partner_id, partner_name, health.flow_id, health.name
                    ),
                    value,
                    holds(rule.comparison, value, rule.threshold),
                    open_incidents.get((rule.id, health.flow_id)),
                )
            )
    return verdicts


async def _current_rule(session: AsyncSession, verdict: Verdict) -> AlertRule | None:
    """The rule, share-locked so an edit waits for this change (and this change for an edit); None when
    it was edited or deleted since the facts were read: the next evaluation judges it afresh."""
    rule = await session.scalar(
        select(AlertRule).where(AlertRule.id == verdict.rule_id).with_for_update(read=True)
    )
    if rule is None or rule.updated_at != verdict.rule_updated_at or not rule.is_enabled:
        return None
    return rule


async def open_incident(
    session: AsyncSession, verdict: Verdict, now: datetime, correlation_id: str
) -> AlertIncident | None:
    """Open the rule × flow's incident and queue its firing notifications; None when one is open
    already (another evaluation got there first: the partial unique index decides)."""
    rule = await _current_rule(session, verdict)
    if rule is None or verdict.value is None:
        return None
    incident_id = await session.scalar(
        insert(AlertIncident)
        .values(
            id=uuid.uuid4(),
            tenant_id=rule.tenant_id,
            rule_id=rule.id,
            flow_id=verdict.subject.flow_id,
            metric=rule.metric,
            comparison=rule.comparison,
            threshold=rule.threshold,
            opened_at=now,
            opened_value=verdict.value,
        )
        .on_conflict_do_nothing(
            index_elements=[AlertIncident.rule_id, AlertIncident.flow_id],
            index_where=AlertIncident.resolved_at.is_(None),
        )
        .returning(AlertIncident.id)
    )
    if incident_id is None:
        return None
    incident = await session.get(AlertIncident, incident_id)
    assert incident is not None
    await queue_notifications(
        session, "firing", incident, rule, verdict.subject, correlation_id=correlation_id
    )
    return incident


async def resolve_incident(
    session: AsyncSession, verdict: Verdict, now: datetime, correlation_id: str
) -> AlertIncident | None:
    """Resolve the open incident and queue its recovery notifications; None when it is resolved
    already (the row lock makes a second evaluation find it so)."""
    rule = await _current_rule(session, verdict)
    if rule is None or verdict.open_incident_id is None:
        return None
    incident: AlertIncident | None = await session.scalar(
        update(AlertIncident)
        .where(AlertIncident.id == verdict.open_incident_id, AlertIncident.resolved_at.is_(None))
        .values(resolved_at=now, resolved_value=verdict.value, resolution="recovered")
        .returning(AlertIncident)
    )
    if incident is None:
        return None
    await queue_notifications(
        session, "recovered", incident, rule, verdict.subject, correlation_id=correlation_id
    )
    return incident


async def evaluate_alerts(db: Database, now: datetime) -> EvaluationReport:
    """One evaluation of every enabled rule at ``now``."""
    report = EvaluationReport()
    async with db.transaction(DbScope.system()) as session:
        verdicts = await _verdicts(session, now)
    report.checked = len(verdicts)
    for verdict in verdicts:
        if verdict.is_holding == (verdict.open_incident_id is not None):
            continue  # still firing (notified once already) or still quiet
        correlation_id = f"alert-{uuid.uuid4().hex[:16]}"
        try:
            async with db.transaction(DbScope.system()) as session:
                if verdict.is_holding:
                    report.opened += await open_incident(session, verdict, now, correlation_id) is not None
                else:
                    report.resolved += (
                        await resolve_incident(session, verdict, now, correlation_id) is not None
                    )
        except Exception as error:  # recorded; the next minute's evaluation tries this rule × flow again
            log.exception(
                "alerts.change_failed",
                rule_id=str(verdict.rule_id),
                flow_id=str(verdict.subject.flow_id),
                correlation_id=correlation_id,
                error=f"{type(error).__name__}: {error}",
            )
    return report
