"""arq jobs of partner billing: reporting closed hours of usage, sending meter events, reconciling with
Stripe, and setting a partner up; each reads its state from PostgreSQL and is safe to run twice."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from app.billing import service
from app.metering.periods import period_named

log = structlog.get_logger(__name__)

SEND_METER_EVENTS_TASK = "billing.send_meter_events"
REPORT_USAGE_TASK = "billing.report_usage"
RECONCILE_BILLING_TASK = "billing.reconcile"
ENSURE_BILLING_ACCOUNT_TASK = "billing.ensure_account"


def _is_configured(ctx: dict[str, Any]) -> bool:
    return bool(ctx["settings"].stripe_api_key)


async def report_usage(ctx: dict[str, Any]) -> str:
    """Cron, every 5 minutes: closed hours → meter reports, then a send job if there are new ones."""
    inserted = await service.report_usage(ctx["db"], ctx["clock"].now())
    if inserted and _is_configured(ctx):
        await ctx["redis"].enqueue_job(SEND_METER_EVENTS_TASK, _queue_name=ctx["queue_name"])
    return f"reported {inserted}"


async def send_meter_events(ctx: dict[str, Any]) -> str:
    """Cron, every minute (and after new reports): send the due meter reports to Stripe."""
    if not _is_configured(ctx):
        return "stripe not configured"
    outcome = await service.send_meter_events(ctx["db"], ctx["settings"], ctx["clock"].now())
    return (
        f"sent {outcome.sent}, already recorded {outcome.already_recorded},"
        f" retrying {outcome.retrying}, failed {outcome.failed}"
    )


async def reconcile_billing(ctx: dict[str, Any], period: str | None = None) -> str:
    """Cron, daily (last month and this one); or a job for ``period`` (``YYYY-MM``)."""
    if not _is_configured(ctx):
        return "stripe not configured"
    chosen = None if period is None else period_named(period)
    checks = await service.reconcile_billing(ctx["db"], ctx["settings"], ctx["clock"].now(), chosen)
    differing = sum(1 for check in checks if check.difference)
    return f"checked {len(checks)}, {differing} differing"


async def ensure_billing_account(ctx: dict[str, Any], partner_id: str) -> str:
    account = await service.ensure_billing_account(
        ctx["db"], ctx["settings"], uuid.UUID(partner_id), ctx["clock"].now()
    )
    return f"partner {partner_id}: customer {account.stripe_customer_id}"
