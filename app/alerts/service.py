"""Alert rules: validating one (paths and reasons), creating and changing it, and its webhook secret
(generated here, sealed at rest, shown once)."""

from __future__ import annotations

import math
import re
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.metrics import COMPARE, METRICS
from app.alerts.models import AlertIncident, AlertRule
from app.crypto import SecretBox
from app.flows.models import Flow
from connectors.sdk.errors import NetworkPolicyError
from connectors.sdk.network import NetworkPolicy

DEFAULT_WINDOW_SECONDS = 900
MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 24 * 3600
MAX_EMAILS = 20
MAX_URL_LENGTH = 2048
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix that marks a signing secret, not a secret)
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

CONDITION_FIELDS = ("metric", "comparison", "threshold", "window_seconds", "flow_id", "is_enabled")
"""Changing any of these closes the rule's open incidents: they were opened under the old condition."""


class RuleError(Exception):
    """A rule that cannot be stored; ``problems`` are (path, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {reason}" for path, reason in problems))
        self.problems = problems


@dataclass(slots=True)
class RuleSpec:
    """A rule as the API states it, before it is checked."""

    name: str
    metric: str
    comparison: str
    threshold: float
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    flow_id: uuid.UUID | None = None
    is_enabled: bool = True
    emails: list[str] = field(default_factory=list)
    webhook_url: str | None = None

    @classmethod
    def of(cls, row: AlertRule) -> RuleSpec:
        return cls(
            row.name,
            row.metric,
            row.comparison,
            row.threshold,
            row.window_seconds,
            row.flow_id,
            row.is_enabled,
            list(row.emails),
            row.webhook_url,
        )


async def webhook_url_problem(url: str, policy: NetworkPolicy) -> str | None:
    """Why ``url`` cannot receive alerts, or None. https only, except for hosts the SSRF allow-list
    admits (sandboxes, an on-premises receiver); never a private address the policy refuses."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    is_allowed_host = policy.allow_private or host in policy.allowed_hosts
    if parts.scheme != "https" and not (parts.scheme == "http" and is_allowed_host):
        return "must be an https URL"
    if parts.username or parts.password:
        return "must not carry credentials; the signature authenticates us"
    try:
        await policy.check_url(url)
    except NetworkPolicyError as error:
        return str(error)
    return None


async def check_rule(
    session: AsyncSession, tenant_id: uuid.UUID, spec: RuleSpec, policy: NetworkPolicy
) -> None:
    """Raise ``RuleError`` with every problem of ``spec`` at once."""
    problems: list[tuple[str, str]] = []
    metric = METRICS.get(spec.metric)
    if metric is None:
        problems.append(("metric", f"unknown metric; one of {', '.join(METRICS)}"))
    if spec.comparison not in COMPARE:
        problems.append(("comparison", f"one of {', '.join(COMPARE)}"))
    if not math.isfinite(spec.threshold):
        problems.append(("threshold", "must be a finite number"))
    elif metric is not None and spec.threshold < metric.lowest:
        problems.append(("threshold", f"{metric.name} is never below {metric.lowest:g}"))
    elif metric is not None and metric.highest is not None and spec.threshold > metric.highest:
        problems.append(("threshold", f"{metric.name} is never above {metric.highest:g}"))
    if not MIN_WINDOW_SECONDS <= spec.window_seconds <= MAX_WINDOW_SECONDS:
        problems.append(("window_seconds", f"between {MIN_WINDOW_SECONDS} and {MAX_WINDOW_SECONDS} seconds"))
    if spec.flow_id is not None:
        found = await session.scalar(
            select(Flow.id).where(Flow.tenant_id == tenant_id, Flow.id == spec.flow_id)
        )
        if found is None:
            problems.append(("flow_id", "no such flow"))
    if len(spec.emails) > MAX_EMAILS:
        problems.append(("emails", f"at most {MAX_EMAILS} addresses"))
    for index, address in enumerate(spec.emails):
        if len(address) > 320 or not _EMAIL.match(address):
            problems.append((f"emails[{index}]", "not an e-mail address"))
    if spec.webhook_url is not None:
        reason = await webhook_url_problem(spec.webhook_url, policy)
        if reason is not None:
            problems.append(("webhook_url", reason))
    if not spec.emails and spec.webhook_url is None:
        problems.append(("emails", "give e-mail addresses, a webhook_url, or both"))
    if problems:
        raise RuleError(problems)


def new_webhook_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def webhook_secret(box: SecretBox, row: AlertRule) -> str | None:
    if row.webhook_secret_sealed is None:
        return None
    return box.open(row.webhook_secret_sealed, row.sealing_context).decode()


def _seal_new_secret(box: SecretBox, row: AlertRule) -> str:
    secret = new_webhook_secret()
    row.webhook_secret_sealed = box.seal(secret.encode(), row.sealing_context)
    return secret


def _apply(row: AlertRule, spec: RuleSpec) -> None:
    row.name, row.metric, row.comparison = spec.name, spec.metric, spec.comparison
    row.threshold, row.window_seconds, row.flow_id = spec.threshold, spec.window_seconds, spec.flow_id
    row.is_enabled, row.emails, row.webhook_url = spec.is_enabled, list(spec.emails), spec.webhook_url


async def create_rule(
    session: AsyncSession,
    box: SecretBox,
    policy: NetworkPolicy,
    *,
    tenant_id: uuid.UUID,
    spec: RuleSpec,
) -> tuple[AlertRule, str | None]:
    """A checked rule and, when it has a webhook, the signing secret (the only time it is returned)."""
    await check_rule(session, tenant_id, spec, policy)
    row = AlertRule(id=uuid.uuid4(), tenant_id=tenant_id)
    _apply(row, spec)
    secret = _seal_new_secret(box, row) if spec.webhook_url is not None else None
    session.add(row)
    await session.flush()
    return row, secret


async def update_rule(
    session: AsyncSession,
    box: SecretBox,
    policy: NetworkPolicy,
    row: AlertRule,
    *,
    spec: RuleSpec,
    rotate_secret: bool,
    now: datetime,
) -> tuple[dict[str, dict[str, object]], str | None]:
    """Apply a checked full ``spec``; returns the audit changes and a new secret when one was made (a
    webhook added to a rule without one, or ``rotate_secret``). A changed condition closes open
    incidents silently; the next evaluation opens fresh ones if the new condition holds."""
    await check_rule(session, row.tenant_id, spec, policy)
    before, after = audit_view(RuleSpec.of(row)), audit_view(spec)
    changes: dict[str, dict[str, object]] = {
        key: {"before": before[key], "after": after[key]} for key in after if before[key] != after[key]
    }
    _apply(row, spec)
    secret = None
    if spec.webhook_url is None:
        row.webhook_secret_sealed = None
    elif rotate_secret or row.webhook_secret_sealed is None:
        secret = _seal_new_secret(box, row)
        changes["webhook_secret"] = {"rotated": True}
    if any(key in changes for key in CONDITION_FIELDS):
        await close_open_incidents(session, row.id, now)
    row.updated_at = now
    await session.flush()
    return changes, secret


async def close_open_incidents(session: AsyncSession, rule_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(AlertIncident)
        .where(AlertIncident.rule_id == rule_id, AlertIncident.resolved_at.is_(None))
        .values(resolved_at=now, resolution="rule_changed")
    )


def audit_view(spec: RuleSpec) -> dict[str, object]:
    """The rule as the audit log keeps it (JSON values; the secret is never part of it)."""
    return {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in asdict(spec).items()}


async def get_rule(session: AsyncSession, tenant_id: uuid.UUID, rule_id: uuid.UUID) -> AlertRule | None:
    return await session.scalar(
        select(AlertRule).where(AlertRule.tenant_id == tenant_id, AlertRule.id == rule_id)
    )
