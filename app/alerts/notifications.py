"""An incident's notifications: one mail per address (the mail outbox) and one signed webhook (an
outbox job of its own), queued in the transaction that opens or resolves the incident.

The webhook is ``POST`` JSON signed like the webhooks we accept (``connectors/sdk/webhooks.py``,
``X-Shelfsync-Signature: t=<unix>,v1=<hex>``), so a receiver verifies it with the same code. The
``Idempotency-Key`` header carries the event id, the same on every retry of one notification.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.metrics import METRICS
from app.alerts.models import AlertIncident, AlertRule
from app.connections.service import network_policy
from app.mail.service import queue_mail
from app.outbox.service import record_work
from app.settings import Settings
from connectors.sdk.webhooks import WebhookScheme, sign

ALERT_WEBHOOK_TASK = "send_alert_webhook"
SCHEME = WebhookScheme()
EVENT_ID_HEADER = "Idempotency-Key"
TIMEOUT_SECONDS = 10.0

Kind = Literal["firing", "recovered"]


class AlertWebhookError(Exception):
    """The receiver did not acknowledge (non-2xx); the outbox job retries with backoff."""


@dataclass(frozen=True, slots=True)
class AlertSubject:
    """Who an incident is about, by name, for the message texts."""

    tenant_id: uuid.UUID
    tenant_name: str
    partner_id: uuid.UUID
    partner_name: str
    flow_id: uuid.UUID
    flow_name: str


def event_id(incident_id: uuid.UUID, kind: Kind) -> str:
    """Stable per incident and kind: a receiver that saw it already can drop a repeat."""
    return str(uuid.uuid5(incident_id, kind))


def alert_event(
    kind: Kind, incident: AlertIncident, rule: AlertRule, subject: AlertSubject
) -> dict[str, Any]:
    """The webhook body."""
    return {
        "type": f"alert.{kind}",
        "id": event_id(incident.id, kind),
        "incident": str(incident.id),
        "tenant": {"id": str(subject.tenant_id), "name": subject.tenant_name},
        "rule": {"id": str(rule.id), "name": rule.name},
        "flow": {"id": str(subject.flow_id), "name": subject.flow_name},
        "metric": incident.metric,
        "comparison": incident.comparison,
        "value": incident.opened_value if kind == "firing" else incident.resolved_value,
        "threshold": incident.threshold,
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
    }


def _figure(metric: str, value: float | None) -> str:
    if value is None:
        return "nothing to measure"
    return f"{value:.2f} %" if metric == "success_rate" else f"{value:g}"


def _mail(kind: Kind, incident: AlertIncident, rule: AlertRule, subject: AlertSubject) -> tuple[str, str]:
    metric = METRICS[incident.metric]
    condition = f"{incident.metric} {incident.comparison} {_figure(incident.metric, incident.threshold)}"
    if metric.is_windowed:
        condition += f" over {rule.window_seconds // 60} min"
    if kind == "firing":
        title = f"Alert: {rule.name} on {subject.flow_name} ({subject.tenant_name})"
        body = (
            f"The alert {rule.name!r} is firing for the flow {subject.flow_name!r} of "
            f"{subject.tenant_name}.\n\n"
            f"{metric.description}: {_figure(incident.metric, incident.opened_value)}\n"
            f"Condition: {condition}\nSince: {incident.opened_at:%Y-%m-%d %H:%M} UTC\n\n"
            "You will get one more message when it recovers."
        )
    else:
        title = f"Recovered: {rule.name} on {subject.flow_name} ({subject.tenant_name})"
        body = (
            f"The alert {rule.name!r} has recovered for the flow {subject.flow_name!r} of "
            f"{subject.tenant_name}.\n\n"
            f"{metric.description}: {_figure(incident.metric, incident.resolved_value)}\n"
            f"Condition: {condition}\n"
            f"Firing from {incident.opened_at:%Y-%m-%d %H:%M} to {incident.resolved_at:%Y-%m-%d %H:%M} UTC."
        )
    return title, body


async def queue_notifications(
    session: AsyncSession,
    kind: Kind,
    incident: AlertIncident,
    rule: AlertRule,
    subject: AlertSubject,
    *,
    correlation_id: str,
) -> None:
    """Queue the mails and the webhook of ``kind`` in the session's transaction, and note them on the
    incident."""
    title, body = _mail(kind, incident, rule, subject)
    for address in rule.emails:
        await queue_mail(
            session,
            to_address=address,
            from_name=subject.partner_name,
            subject=title,
            body=body,
            partner_id=subject.partner_id,
            tenant_id=subject.tenant_id,
            correlation_id=correlation_id,
        )
    webhook_state = None
    if rule.webhook_url is not None:
        await record_work(
            session,
            ALERT_WEBHOOK_TASK,
            {
                "incident_id": str(incident.id),
                "kind": kind,
                "event": alert_event(kind, incident, rule, subject),
            },
            tenant_id=subject.tenant_id,
            correlation_id=correlation_id,
            lane="urgent",
        )
        webhook_state = "pending"
    if kind == "firing":
        incident.firing_mails, incident.firing_webhook = len(rule.emails), webhook_state
    else:
        incident.recovered_mails, incident.recovered_webhook = len(rule.emails), webhook_state
    await session.flush()


async def post_alert(settings: Settings, url: str, secret: str, event: dict[str, Any], now: datetime) -> None:
    """One signed delivery through the SSRF guard; raises unless the receiver answered 2xx."""
    await network_policy(settings).check_url(url)
    body = msgspec.json.encode(event)
    headers = {
        "Content-Type": "application/json",
        SCHEME.header: sign(SCHEME, secret, body, int(now.timestamp())),
        EVENT_ID_HEADER: str(event["id"]),
    }
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        response = await client.post(url, content=body, headers=headers)
    if not response.is_success:
        raise AlertWebhookError(f"HTTP {response.status_code} from {url}: {response.text[:300]}")
