"""Partner billing rules: setting a partner up in Stripe, turning closed hours of its retailers' usage
into meter reports, sending them once, reconciling totals, and applying Stripe's events.

Exactly-once rests on the report's ``identifier`` (``{partner}:{kind}:{window start}``): a report row is
inserted once per identifier, and Stripe refuses a meter event whose identifier it holds, so a worker
that dies between Stripe's answer and marking the row sent sends again and learns it was recorded.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.catalog import BILLABLE_METERS, CURRENCY
from app.billing.models import BillingAccount, BillingReconciliation, MeterReport, PartnerInvoice, StripeEvent
from app.billing.stripe_api import retry_after_of, stripe_client, verdict_of
from app.database.engine import Database
from app.database.scope import DbScope
from app.metering.models import UsageEvent, UsageTotal
from app.metering.periods import BillingPeriod, period_at
from app.metering.service import periods_starting_between
from app.settings import Settings
from tenants.models import Partner, Tenant

log = structlog.get_logger(__name__)

WINDOW = timedelta(hours=1)
REPORT_GRACE = timedelta(minutes=5)
"""An hour is closed this long after it ends: work committing just past the hour still lands in it."""
SEND_BATCH = 200
SEND_LEASE = timedelta(minutes=2)
"""A claimed report is not claimed again for this long (a worker that died releases it by expiry)."""
MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
INVOICE_STAGES = {"draft": 0, "open": 1, "paid": 2, "void": 2, "uncollectible": 2}
"""An invoice only moves forward: an ``invoice.created`` arriving after ``invoice.paid`` changes nothing."""


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def report_identifier(partner_id: uuid.UUID, kind: str, window_start: datetime) -> str:
    """The meter event identifier of a partner's ``kind`` in the hour starting ``window_start``."""
    return f"{partner_id}:{kind}:{window_start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential with jitter, at least what Stripe's ``Retry-After`` asked for."""
    delay: timedelta = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    delay = delay * (0.8 + 0.4 * random.random())
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


# -- setting a partner up ---------------------------------------------------------------------------


async def _meters(client: stripe.StripeClient) -> dict[str, str]:
    """Kind → meter id, creating the platform's meters once (they are shared by every partner)."""
    listed = await client.v1.billing.meters.list_async(params={"status": "active", "limit": 100})
    existing = {meter.event_name: meter.id async for meter in listed.auto_paging_iter()}
    found: dict[str, str] = {}
    for kind, billable in BILLABLE_METERS.items():
        if billable.event_name not in existing:
            created = await client.v1.billing.meters.create_async(
                params={
                    "display_name": billable.display_name,
                    "event_name": billable.event_name,
                    "default_aggregation": {"formula": "sum"},
                    "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                    "value_settings": {"event_payload_key": "value"},
                },
                options={"idempotency_key": f"shelfsync-meter-{billable.event_name}"},
            )
            existing[billable.event_name] = created.id
        found[kind] = existing[billable.event_name]
    return found


async def _prices(client: stripe.StripeClient, meter_ids: dict[str, str]) -> dict[str, str]:
    """Kind → the metered price on that kind's meter, creating product and price once."""
    found: dict[str, str] = {}
    for kind, billable in BILLABLE_METERS.items():
        product_id = f"shelfsync_{kind}"
        listed = await client.v1.prices.list_async(
            params={"product": product_id, "active": True, "limit": 100}
        )
        matching = [
            price.id
            async for price in listed.auto_paging_iter()
            if price.recurring is not None and price.recurring.meter == meter_ids[kind]
        ]
        if matching:
            found[kind] = matching[0]
            continue
        try:
            await client.v1.products.create_async(
                params={"id": product_id, "name": f"Shelfsync {billable.display_name.lower()}"},
                options={"idempotency_key": f"shelfsync-product-{product_id}"},
            )
        except stripe.InvalidRequestError as error:
            if error.code != "resource_already_exists":
                raise
        price = await client.v1.prices.create_async(
            params={
                "currency": CURRENCY,
                "product": product_id,
                "unit_amount_decimal": Decimal(billable.unit_amount_decimal),
                "nickname": billable.display_name,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_ids[kind]},
            },
            options={"idempotency_key": f"shelfsync-price-{kind}-{meter_ids[kind]}"},
        )
        found[kind] = price.id
    return found


async def ensure_billing_account(
    db: Database, settings: Settings, partner_id: uuid.UUID, now: datetime
) -> BillingAccount:
    """Give a partner its Stripe customer, the platform's meters and metered prices, and a subscription
    to them; every step is found or made once (idempotency keys), so running it again changes nothing."""
    async with db.transaction(DbScope.system()) as session:
        partner = await session.get(Partner, partner_id)
        if partner is None:
            raise LookupError(f"no partner {partner_id}")
        account = await session.get(BillingAccount, partner_id)
        customer_id = account.stripe_customer_id if account else None
        subscription_id = account.stripe_subscription_id if account else None
        name, slug = partner.name, partner.slug
    async with stripe_client(settings) as client:
        if customer_id is None:
            customer = await client.v1.customers.create_async(
                params={"name": name, "metadata": {"shelfsync_partner_id": str(partner_id), "partner": slug}},
                options={"idempotency_key": f"shelfsync-customer-{partner_id}"},
            )
            customer_id = customer.id
            # recorded before the subscription exists, so its webhook finds the partner
            async with db.transaction(DbScope.system()) as session:
                await session.execute(
                    insert(BillingAccount)
                    .values(
                        partner_id=partner_id,
                        stripe_customer_id=customer_id,
                        billing_starts_at=hour_floor(now),
                        reported_until=hour_floor(now),
                    )
                    .on_conflict_do_nothing(index_elements=[BillingAccount.partner_id])
                )
        meter_ids = await _meters(client)
        price_ids = await _prices(client, meter_ids)
        status: str | None = None
        if subscription_id is None:
            held = await client.v1.subscriptions.list_async(params={"customer": customer_id, "limit": 1})
            subscription = (
                held.data[0]
                if held.data
                else await client.v1.subscriptions.create_async(
                    params={
                        "customer": customer_id,
                        "items": [{"price": price_id} for price_id in price_ids.values()],
                        "metadata": {"shelfsync_partner_id": str(partner_id)},
                    },
                    options={"idempotency_key": f"shelfsync-subscription-{partner_id}"},
                )
            )
            subscription_id, status = subscription.id, subscription.status
    async with db.transaction(DbScope.system()) as session:
        account = await session.get(BillingAccount, partner_id, with_for_update=True)
        assert account is not None
        account.meter_ids, account.price_ids = meter_ids, price_ids
        account.stripe_subscription_id = account.stripe_subscription_id or subscription_id
        account.subscription_status = account.subscription_status or status
    log.info("billing.account_ready", partner_id=str(partner_id), customer=customer_id)
    return account


# -- usage → meter reports --------------------------------------------------------------------------


async def usage_by_hour(
    session: AsyncSession, partner_id: uuid.UUID, start: datetime, end: datetime
) -> dict[tuple[str, datetime], int]:
    """The partner's retailers' billable usage in [start, end), per kind and hour window."""
    hour = func.floor(func.extract("epoch", UsageEvent.occurred_at) / 3600)
    rows = await session.execute(
        select(UsageEvent.kind, hour, func.sum(UsageEvent.quantity))
        .join(Tenant, Tenant.id == UsageEvent.tenant_id)
        .where(
            Tenant.partner_id == partner_id,
            UsageEvent.kind.in_(BILLABLE_METERS),
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < end,
        )
        .group_by(UsageEvent.kind, hour)
    )
    return {
        (kind, datetime.fromtimestamp(int(number) * 3600, UTC)): int(total)
        for kind, number, total in rows.all()
    }


async def usage_total(
    session: AsyncSession, partner_id: uuid.UUID, kind: str, start: datetime, end: datetime
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageEvent.quantity), 0))
        .join(Tenant, Tenant.id == UsageEvent.tenant_id)
        .where(
            Tenant.partner_id == partner_id,
            UsageEvent.kind == kind,
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < end,
        )
    )
    # months whose events retention rolled up count with the window holding their first day, as in
    # usage_between (a short retention can retire last month before it is reconciled)
    periods = periods_starting_between(start, end)
    rolled = (
        await session.scalar(
            select(func.coalesce(func.sum(UsageTotal.quantity), 0))
            .join(Tenant, Tenant.id == UsageTotal.tenant_id)
            .where(Tenant.partner_id == partner_id, UsageTotal.kind == kind, UsageTotal.period.in_(periods))
        )
        if periods
        else 0
    )
    return int(total or 0) + int(rolled or 0)


async def report_partner_usage(session: AsyncSession, account: BillingAccount, now: datetime) -> int:
    """Insert a pending report for each closed hour since ``reported_until`` with usage (one per
    identifier: a report already there is left alone); the number of new reports."""
    cutoff = hour_floor(now - REPORT_GRACE)
    if account.reported_until >= cutoff:
        return 0
    sums = await usage_by_hour(session, account.partner_id, account.reported_until, cutoff)
    rows: list[dict[str, Any]] = [
        {
            "partner_id": account.partner_id,
            "kind": kind,
            "event_name": BILLABLE_METERS[kind].event_name,
            "window_start": start,
            "window_end": start + WINDOW,
            "value": value,
            "identifier": report_identifier(account.partner_id, kind, start),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for (kind, start), value in sorted(sums.items(), key=lambda item: (item[0][1], item[0][0]))
        if value > 0
    ]
    inserted = 0
    if rows:
        result = await session.execute(
            insert(MeterReport)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[MeterReport.identifier])
            .returning(MeterReport.id)
        )
        inserted = len(result.all())
    account.reported_until = cutoff
    return inserted


async def report_usage(db: Database, now: datetime) -> int:
    """Every billing account's closed hours as meter reports; the number of new reports."""
    async with db.transaction(DbScope.system()) as session:
        partner_ids = list(await session.scalars(select(BillingAccount.partner_id)))
    inserted = 0
    for partner_id in partner_ids:
        async with db.transaction(DbScope.system()) as session:
            account = await session.scalar(
                select(BillingAccount)
                .where(BillingAccount.partner_id == partner_id)
                .with_for_update(skip_locked=True)  # another worker is on it
            )
            if account is not None:
                inserted += await report_partner_usage(session, account, now)
    return inserted


# -- sending ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    identifier: str
    event_name: str
    value: int
    window_start: datetime
    customer_id: str
    attempts: int


@dataclass
class SendOutcome:
    sent: int = 0
    already_recorded: int = 0
    retrying: int = 0
    failed: int = 0


async def claim_due_reports(db: Database, now: datetime, limit: int = SEND_BATCH) -> list[_Claimed]:
    """Pending reports that are due, leased for ``SEND_LEASE`` and counted as an attempt."""
    async with db.transaction(DbScope.system()) as session:
        rows = (
            await session.execute(
                select(MeterReport, BillingAccount.stripe_customer_id)
                .join(BillingAccount, BillingAccount.partner_id == MeterReport.partner_id)
                .where(MeterReport.status == "pending", MeterReport.next_attempt_at <= now)
                .order_by(MeterReport.next_attempt_at, MeterReport.id)
                .limit(limit)
                .with_for_update(of=MeterReport, skip_locked=True)
            )
        ).all()
        claimed = []
        for report, customer_id in rows:
            report.attempts += 1
            report.next_attempt_at = now + SEND_LEASE
            claimed.append(
                _Claimed(
                    report.id,
                    report.identifier,
                    report.event_name,
                    report.value,
                    report.window_start,
                    customer_id,
                    report.attempts,
                )
            )
        return claimed


async def _settle(db: Database, report_id: int, **values: Any) -> None:
    async with db.transaction(DbScope.system()) as session:
        await session.execute(
            update(MeterReport)
            .where(MeterReport.id == report_id, MeterReport.status == "pending")
            .values(**values)
        )


async def send_meter_events(db: Database, settings: Settings, now: datetime) -> SendOutcome:
    """Send due reports as Stripe meter events (``identifier``, ``timestamp`` = window start) and mark
    each sent, retried later (429, 5xx, network: backoff honouring ``Retry-After``) or failed."""
    outcome = SendOutcome()
    claimed = await claim_due_reports(db, now)
    if not claimed:
        return outcome
    async with stripe_client(settings) as client:
        for report in claimed:
            try:
                await client.v1.billing.meter_events.create_async(
                    params={
                        "event_name": report.event_name,
                        "payload": {"stripe_customer_id": report.customer_id, "value": str(report.value)},
                        "identifier": report.identifier,
                        "timestamp": int(report.window_start.timestamp()),
                    },
                    # within Stripe's 24 hours a resend is simply replayed; after that, the identifier holds
                    options={"idempotency_key": f"shelfsync-meter-event-{report.identifier}"},
                )
            except stripe.StripeError as error:
                verdict = verdict_of(error)
                reason = f"{type(error).__name__} {error.http_status}: {error.user_message or error}"[:1000]
                if verdict == "recorded":
                    outcome.already_recorded += 1
                    await _settle(db, report.id, status="sent", sent_at=now, last_error=None)
                elif verdict == "transient" and report.attempts < MAX_ATTEMPTS:
                    outcome.retrying += 1
                    delay = backoff(report.attempts, retry_after_of(error))
                    await _settle(db, report.id, next_attempt_at=now + delay, last_error=reason)
                else:
                    outcome.failed += 1
                    await _settle(db, report.id, status="failed", last_error=reason)
                    log.error("billing.meter_event_failed", identifier=report.identifier, error=reason)
                continue
            outcome.sent += 1
            await _settle(db, report.id, status="sent", sent_at=now, last_error=None)
    log.info("billing.meter_events_sent", **vars(outcome))
    return outcome


# -- reconciliation ---------------------------------------------------------------------------------


async def reconcile_billing(
    db: Database, settings: Settings, now: datetime, period: BillingPeriod | None = None
) -> list[BillingReconciliation]:
    """Compare each partner × meter's usage with Stripe's meter event summary over ``period`` (default:
    last month and this one), up to the hours reported so far; store each check, warn on a difference."""
    this_month = period_at(now)
    chosen = [this_month.previous(), this_month] if period is None else [period]
    periods = [(p.starts_at, p.ends_at) for p in chosen]
    async with db.transaction(DbScope.system()) as session:
        accounts = list(await session.scalars(select(BillingAccount)))
    checks: list[BillingReconciliation] = []
    async with stripe_client(settings) as client:
        for account in accounts:
            for start, end in periods:
                since = max(start, account.billing_starts_at)
                until = min(end, account.reported_until)
                if until <= since:
                    continue
                for kind, meter_id in sorted(account.meter_ids.items()):
                    if kind not in BILLABLE_METERS:
                        continue
                    summaries = await client.v1.billing.meters.event_summaries.list_async(
                        meter_id,
                        params={
                            "customer": account.stripe_customer_id,
                            "start_time": int(since.timestamp()),
                            "end_time": int(until.timestamp()),
                            "limit": 100,
                        },
                    )
                    stripe_total = round(
                        sum([summary.aggregated_value async for summary in summaries.auto_paging_iter()])
                    )
                    async with db.transaction(DbScope.system()) as session:
                        local_total = await usage_total(session, account.partner_id, kind, since, until)
                        check = BillingReconciliation(
                            partner_id=account.partner_id,
                            kind=kind,
                            meter_id=meter_id,
                            period_start=since,
                            period_end=until,
                            local_total=local_total,
                            stripe_total=stripe_total,
                            difference=local_total - stripe_total,
                            checked_at=now,
                        )
                        session.add(check)
                    checks.append(check)
                    if check.difference:
                        log.warning(
                            "billing.reconciliation_difference",
                            partner_id=str(account.partner_id),
                            kind=kind,
                            period_start=since.isoformat(),
                            period_end=until.isoformat(),
                            local_total=local_total,
                            stripe_total=stripe_total,
                            difference=check.difference,
                        )
    return checks


# -- Stripe's events --------------------------------------------------------------------------------


def _moment(unix: Any) -> datetime:
    return datetime.fromtimestamp(int(unix), UTC)


async def apply_stripe_event(session: AsyncSession, event: stripe.Event, now: datetime) -> bool:
    """Record ``event`` and apply it (subscription status, partner invoice); False when it was seen
    before (a redelivery), in which case nothing changes."""
    subject: dict[str, Any] = event.data.object.to_dict()
    customer_id = subject.get("customer")
    account = (
        await session.scalar(select(BillingAccount).where(BillingAccount.stripe_customer_id == customer_id))
        if isinstance(customer_id, str)
        else None
    )
    created = _moment(event.created)
    fresh = await session.scalar(
        insert(StripeEvent)
        .values(
            id=event.id,
            type=event.type,
            partner_id=account.partner_id if account else None,
            stripe_created_at=created,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    if fresh is None:
        return False
    if account is None:
        log.info("billing.stripe_event_ignored", event_id=event.id, type=event.type, customer=customer_id)
        return True
    if event.type.startswith("customer.subscription."):
        await _apply_subscription(session, account, subject, created)
    elif event.type.startswith("invoice."):
        await _apply_invoice(session, account, subject, now)
    return True


async def _apply_subscription(
    session: AsyncSession, account: BillingAccount, subscription: dict[str, Any], created: datetime
) -> None:
    if account.stripe_subscription_id not in (None, subscription["id"]):
        return  # another subscription of the customer: not the one Shelfsync bills on
    # events can arrive out of order: an older event does not overwrite a newer status
    if account.subscription_status_at is not None and created < account.subscription_status_at:
        return
    await session.refresh(account, with_for_update=True)
    account.stripe_subscription_id = subscription["id"]
    account.subscription_status = str(subscription["status"])
    account.subscription_status_at = created


async def _apply_invoice(
    session: AsyncSession, account: BillingAccount, invoice: dict[str, Any], now: datetime
) -> None:
    status = str(invoice.get("status") or "draft")
    values = {
        "status": status,
        "amount_due": int(invoice.get("amount_due") or 0),
        "amount_paid": int(invoice.get("amount_paid") or 0),
        "currency": str(invoice.get("currency") or CURRENCY),
        "period_start": _moment(invoice["period_start"]),
        "period_end": _moment(invoice["period_end"]),
        "updated_at": now,
    }
    await session.execute(
        insert(PartnerInvoice)
        .values(partner_id=account.partner_id, stripe_invoice_id=invoice["id"], **values)
        .on_conflict_do_nothing(index_elements=[PartnerInvoice.stripe_invoice_id])
    )
    stored = await session.scalar(
        select(PartnerInvoice).where(PartnerInvoice.stripe_invoice_id == invoice["id"]).with_for_update()
    )
    assert stored is not None
    if INVOICE_STAGES.get(status, 0) >= INVOICE_STAGES.get(stored.status, 0):
        for name, value in values.items():
            setattr(stored, name, value)
