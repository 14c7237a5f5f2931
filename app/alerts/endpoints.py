"""``/api/v1/alert-rules`` (list, create, read, update, delete; every change audited) and
``/api/v1/alert-incidents`` (list, open or resolved)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.metrics import METRICS
from app.alerts.models import AlertIncident, AlertRule
from app.alerts.service import (
    DEFAULT_WINDOW_SECONDS,
    RuleError,
    RuleSpec,
    audit_view,
    create_rule,
    get_rule,
    update_rule,
)
from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.connections.service import network_policy
from app.crypto import SecretBox
from app.http.actor import request_actor
from app.http.pagination import DEFAULT_LIMIT, Page, newest_first
from app.http.problems import Problem
from app.http.state import services_of
from tenants.api_keys import ApiPrincipal
from tenants.audit import record_audit

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Emails = Annotated[list[str], msgspec.Meta(max_length=100)]
IncidentStatus = Literal["open", "resolved", "all"]


class AlertRuleView(msgspec.Struct):
    id: uuid.UUID
    name: str
    metric: str
    comparison: str
    threshold: float
    window_seconds: int
    flow_id: uuid.UUID | None
    """None: every flow of the tenant, each alerted on separately."""
    enabled: bool
    emails: list[str]
    webhook_url: str | None
    webhook_secret: str | None
    """The webhook's HMAC secret: only in the answer that created it (create, a webhook added, or
    ``rotate_webhook_secret``); store it then, it is never shown again."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AlertRule, secret: str | None = None) -> AlertRuleView:
        return cls(
            row.id,
            row.name,
            row.metric,
            row.comparison,
            row.threshold,
            row.window_seconds,
            row.flow_id,
            row.is_enabled,
            list(row.emails),
            row.webhook_url,
            secret,
            row.created_at,
            row.updated_at,
        )


class CreateAlertRule(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    metric: str
    """dead_letters_open, success_rate (percent), backlog_age_seconds or latency_p95_ms."""
    threshold: float
    comparison: str | None = None
    """>, >=, < or <=; default: the metric's usual one (< for success_rate, > for the others)."""
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    """How far back success_rate and latency_p95_ms look (60 s to 24 h; default 15 min)."""
    flow_id: uuid.UUID | None = None
    enabled: bool = True
    emails: Emails = msgspec.field(default_factory=list)
    webhook_url: str | None = None
    """https (or a host on the connector allow-list); receives signed ``alert.firing`` and
    ``alert.recovered`` events."""


class UpdateAlertRule(msgspec.Struct, forbid_unknown_fields=True):
    """Fields given replace the stored ones; ``flow_id: null`` means every flow, ``webhook_url: null``
    removes the webhook."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    metric: str | msgspec.UnsetType = msgspec.UNSET
    threshold: float | msgspec.UnsetType = msgspec.UNSET
    comparison: str | msgspec.UnsetType = msgspec.UNSET
    window_seconds: int | msgspec.UnsetType = msgspec.UNSET
    flow_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    emails: Emails | msgspec.UnsetType = msgspec.UNSET
    webhook_url: str | msgspec.UnsetType | None = msgspec.UNSET
    rotate_webhook_secret: bool = False


class IncidentNotifications(msgspec.Struct):
    mails: int
    """Mails queued (their delivery is the mail outbox's)."""
    webhook: str | None
    """None without a webhook; pending, delivered or dropped."""
    webhook_delivered_at: datetime | None


class AlertIncidentView(msgspec.Struct):
    id: uuid.UUID
    rule_id: uuid.UUID
    flow_id: uuid.UUID
    status: str
    """open or resolved."""
    metric: str
    comparison: str
    threshold: float
    opened_at: datetime
    opened_value: float
    resolved_at: datetime | None
    resolved_value: float | None
    resolution: str | None
    """recovered, or rule_changed (closed without notice when its rule's condition was edited)."""
    firing: IncidentNotifications
    recovered: IncidentNotifications | None

    @classmethod
    def of(cls, row: AlertIncident) -> AlertIncidentView:
        return cls(
            row.id,
            row.rule_id,
            row.flow_id,
            "open" if row.resolved_at is None else "resolved",
            row.metric,
            row.comparison,
            row.threshold,
            row.opened_at,
            row.opened_value,
            row.resolved_at,
            row.resolved_value,
            row.resolution,
            IncidentNotifications(row.firing_mails, row.firing_webhook, row.firing_webhook_at),
            None
            if row.resolution != "recovered"
            else IncidentNotifications(row.recovered_mails, row.recovered_webhook, row.recovered_webhook_at),
        )


def _rule_problem(error: RuleError) -> Problem:
    return Problem(
        422,
        "The alert rule is not valid.",
        type_slug="invalid-alert-rule",
        errors=[{"path": path, "reason": reason} for path, reason in error.problems],
    )


def _duplicate(name: str) -> Problem:
    return Problem(409, f"An alert rule named {name!r} exists.", type_slug="duplicate-name")


def _box(request: Request[Any, Any, Any]) -> SecretBox:
    return SecretBox.from_settings(services_of(request).settings)


async def _name_is_taken(
    session: AsyncSession, tenant_id: uuid.UUID, name: str, rule_id: uuid.UUID | None = None
) -> bool:
    query = select(AlertRule.id).where(AlertRule.tenant_id == tenant_id, AlertRule.name == name)
    if rule_id is not None:
        query = query.where(AlertRule.id != rule_id)
    return await session.scalar(query) is not None


class AlertRuleController(Controller):
    path = "/alert-rules"
    tags = ["alerts"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListAlertRules", guards=[requires_scope("alerts:read")])
    async def list_rules(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[AlertRuleView]:
        """The tenant's alert rules, newest first."""
        query = select(AlertRule).where(AlertRule.tenant_id == principal.tenant_id)
        return await newest_first(
            session, query, (AlertRule.created_at, AlertRule.id), limit, cursor, AlertRuleView.of
        )

    @post("/", operation_id="CreateAlertRule", guards=[requires_scope("alerts:write")])
    async def create(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        data: CreateAlertRule,
    ) -> AlertRuleView:
        """Create a rule; the answer carries the webhook's signing secret, the only time it is shown."""
        if await _name_is_taken(session, principal.tenant_id, data.name):
            raise _duplicate(data.name)
        metric = METRICS.get(data.metric)
        spec = RuleSpec(
            data.name,
            data.metric,
            data.comparison or (metric.comparison if metric else ">"),
            data.threshold,
            data.window_seconds,
            data.flow_id,
            data.enabled,
            data.emails,
            data.webhook_url,
        )
        try:
            row, secret = await create_rule(
                session,
                _box(request),
                network_policy(services_of(request).settings),
                tenant_id=principal.tenant_id,
                spec=spec,
            )
        except RuleError as error:
            raise _rule_problem(error) from None
        except IntegrityError:  # the same name created at the same moment
            raise _duplicate(data.name) from None
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="alert_rule.created",
            target_type="alert_rule",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={"after": audit_view(spec)},
        )
        return AlertRuleView.of(row, secret)

    @get("/{rule_id:uuid}", operation_id="GetAlertRule", guards=[requires_scope("alerts:read")])
    async def read(self, session: AsyncSession, principal: ApiPrincipal, rule_id: uuid.UUID) -> AlertRuleView:
        """One alert rule (the webhook secret is never returned here)."""
        row = await get_rule(session, principal.tenant_id, rule_id)
        if row is None:
            raise Problem(404, "No such alert rule.")
        return AlertRuleView.of(row)

    @patch("/{rule_id:uuid}", operation_id="UpdateAlertRule", guards=[requires_scope("alerts:write")])
    async def update(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        rule_id: uuid.UUID,
        data: UpdateAlertRule,
    ) -> AlertRuleView:
        """Change a rule; a changed condition closes its open incidents (the next evaluation starts over)."""
        row = await get_rule(session, principal.tenant_id, rule_id)
        if row is None:
            raise Problem(404, "No such alert rule.")
        spec = RuleSpec.of(row)
        given = {
            "name": data.name,
            "metric": data.metric,
            "threshold": data.threshold,
            "comparison": data.comparison,
            "window_seconds": data.window_seconds,
            "flow_id": data.flow_id,
            "is_enabled": data.enabled,
            "emails": data.emails,
            "webhook_url": data.webhook_url,
        }
        for field, value in given.items():
            if value is not msgspec.UNSET:
                setattr(spec, field, value)
        if data.metric is not msgspec.UNSET and data.comparison is msgspec.UNSET and data.metric in METRICS:
            spec.comparison = METRICS[data.metric].comparison  # a new metric brings its usual comparison
        if await _name_is_taken(session, principal.tenant_id, spec.name, row.id):
            raise _duplicate(spec.name)
        try:
            changes, secret = await update_rule(
                session,
                _box(request),
                network_policy(services_of(request).settings),
                row,
                spec=spec,
                rotate_secret=data.rotate_webhook_secret,
                now=services_of(request).clock.now(),
            )
        except RuleError as error:
            raise _rule_problem(error) from None
        except IntegrityError:
            raise _duplicate(spec.name) from None
        if changes:
            await record_audit(
                session,
                request_actor(request, "api_key", principal.key_id),
                action="alert_rule.updated",
                target_type="alert_rule",
                target_id=row.id,
                tenant_id=principal.tenant_id,
                changes=changes,
            )
        return AlertRuleView.of(row, secret)

    @delete(
        "/{rule_id:uuid}",
        operation_id="DeleteAlertRule",
        guards=[requires_scope("alerts:write")],
        status_code=204,
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        rule_id: uuid.UUID,
    ) -> None:
        """Delete a rule with its incidents and its sealed webhook secret."""
        row = await get_rule(session, principal.tenant_id, rule_id)
        if row is None:
            raise Problem(404, "No such alert rule.")
        before = audit_view(RuleSpec.of(row))
        await session.delete(row)
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="alert_rule.deleted",
            target_type="alert_rule",
            target_id=rule_id,
            tenant_id=principal.tenant_id,
            changes={"before": before},
        )


class AlertIncidentController(Controller):
    path = "/alert-incidents"
    tags = ["alerts"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListAlertIncidents", guards=[requires_scope("alerts:read")])
    async def list_incidents(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        status: IncidentStatus = "all",
        rule: uuid.UUID | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[AlertIncidentView]:
        """The tenant's incidents, newest first; filter by ``status`` (open, resolved, all) and ``rule``."""
        query = select(AlertIncident).where(AlertIncident.tenant_id == principal.tenant_id)
        if status == "open":
            query = query.where(AlertIncident.resolved_at.is_(None))
        elif status == "resolved":
            query = query.where(AlertIncident.resolved_at.is_not(None))
        if rule is not None:
            query = query.where(AlertIncident.rule_id == rule)
        return await newest_first(
            session, query, (AlertIncident.opened_at, AlertIncident.id), limit, cursor, AlertIncidentView.of
        )
