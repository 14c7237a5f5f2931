"""arq jobs of alerts: the evaluation every minute, and the outbox job that delivers a signed webhook."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from app.alerts.evaluation import evaluate_alerts
from app.alerts.models import AlertIncident, AlertRule
from app.alerts.notifications import Kind, post_alert
from app.alerts.service import webhook_secret
from app.clock import Clock
from app.crypto import SecretBox
from app.database.scope import DbScope
from app.outbox.service import claim_work


async def evaluate_rules(ctx: dict[str, Any]) -> str:
    """Cron, every minute: judge every enabled rule; open and resolve incidents with their notifications."""
    report = await evaluate_alerts(ctx["db"], ctx["clock"].now())
    return f"checked {report.checked}, opened {report.opened}, resolved {report.resolved}"


async def send_alert_webhook(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: deliver one alert webhook, once. A failure rolls the claim back and raises, so the
    outbox wrapper records it and arq retries with backoff; a success is never sent again."""
    clock: Clock = ctx["clock"]
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        incident_id = uuid.UUID(message.payload["incident_id"])
        kind: Kind = message.payload["kind"]
        incident = await session.get(AlertIncident, incident_id)
        rule = await session.get(AlertRule, incident.rule_id) if incident else None
        state_column, at_column = f"{kind}_webhook", f"{kind}_webhook_at"
        if incident is None or rule is None:
            return "incident-gone"
        if rule.webhook_url is None:
            await session.execute(
                update(AlertIncident).where(AlertIncident.id == incident_id).values({state_column: "dropped"})
            )
            return "no-webhook"
        secret = webhook_secret(SecretBox.from_settings(ctx["settings"]), rule)
        assert secret is not None  # a rule with a webhook always has a sealed secret
        now = clock.now()
        await post_alert(ctx["settings"], rule.webhook_url, secret, message.payload["event"], now)
        await session.execute(
            update(AlertIncident)
            .where(AlertIncident.id == incident_id)
            .values({state_column: "delivered", at_column: now})
        )
    return "delivered"
