"""Plan quotas enforced: connections and events a month, each with a soft limit, where the retailer is
warned (a portal banner) and its partner told once a month, and a hard limit, where new work is refused
(problem type ``quota-exceeded``). The checks run only where new work comes in; work already accepted,
queued or running is never dropped or slowed by a quota.

A month's accepted events are counted in Redis (one key per retailer and month, added to as events are
accepted) so the check costs one round trip, and rebuilt from the metered usage in PostgreSQL when the
key is missing. Concurrent requests may pass the hard limit by at most the batches in flight together;
with Redis away events are still taken (checked against PostgreSQL), and the count misses those until
its key is rebuilt.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.database.scope import DbScope
from app.http.problems import Problem
from app.mail.service import queue_mail
from app.metering.periods import BillingPeriod, period_at
from app.metering.service import usage_between
from app.outbox.service import claim_work, record_work
from app.plans.models import QuotaNotice
from app.plans.service import quotas_of
from app.plans.terms import Quota, Quotas
from tenants.models import Membership, Partner, Tenant, User
from tenants.roles import Role

log = structlog.get_logger(__name__)

QuotaName = Literal["connections", "events_per_month"]
LABELS: dict[str, str] = {"connections": "connections", "events_per_month": "events accepted this month"}
EVENTS_KEY = "shelfsync:quota:events:"
EVENTS_KEY_TTL_SECONDS = 40 * 86_400
NOTIFY_QUOTA_TASK = "notify_quota"


@dataclass(frozen=True, slots=True)
class QuotaStanding:
    quota: QuotaName
    used: int
    soft: int | None
    hard: int | None

    @property
    def is_over_soft(self) -> bool:
        return self.soft is not None and self.used >= self.soft

    @property
    def is_full(self) -> bool:
        return self.hard is not None and self.used >= self.hard

    def describe(self) -> str:
        """``"3 events accepted this month (warning at 2, limit 100)"``."""
        limits = [f"warning at {self.soft:,}"] if self.soft is not None else []
        limits += [f"limit {self.hard:,}"] if self.hard is not None else []
        return f"{self.used:,} {LABELS[self.quota]} ({', '.join(limits)})"


class QuotaExceededError(Exception):
    """New work would go past a hard limit; ``retry_after`` is when the quota renews (None: never by
    itself — the partner must raise it, or the retailer free some)."""

    def __init__(self, standing: QuotaStanding, retry_after: int | None) -> None:
        super().__init__(f"The plan's limit of {standing.hard:,} {LABELS[standing.quota]} is reached.")
        self.standing, self.retry_after = standing, retry_after


def quota_problem(error: QuotaExceededError) -> Problem:
    """403 for a limit that does not renew (connections); 429 with ``Retry-After`` for a monthly one."""
    standing = error.standing
    headers = None if error.retry_after is None else {"Retry-After": str(error.retry_after)}
    return Problem(
        403 if error.retry_after is None else 429,
        f"{error} Ask your partner to raise it; work accepted before is not affected.",
        type_slug="quota-exceeded",
        headers=headers,
        quota=standing.quota,
        limit=standing.hard,
        used=standing.used,
    )


def _standing(quota: QuotaName, limits: Quota, used: int) -> QuotaStanding:
    return QuotaStanding(quota, used, limits.soft, limits.hard)


async def connections_standing(session: AsyncSession, tenant_id: uuid.UUID, quotas: Quotas) -> QuotaStanding:
    used = await session.scalar(select(func.count()).where(Connection.tenant_id == tenant_id))
    return _standing("connections", quotas.connections, int(used or 0))


async def check_new_connection(session: AsyncSession, tenant_id: uuid.UUID) -> QuotaStanding:
    """Refuse a connection past the hard limit; call before adding it. The standing before, for
    :func:`connection_added`."""
    standing = await connections_standing(session, tenant_id, await quotas_of(session, tenant_id))
    if standing.is_full:
        raise QuotaExceededError(standing, retry_after=None)
    return standing


async def connection_added(
    session: AsyncSession, tenant_id: uuid.UUID, before: QuotaStanding, now: datetime
) -> None:
    """Tell the partner (once a month, per level) when the retailer's connections, one more than
    ``before``, reach the soft limit."""
    standing = dataclasses.replace(before, used=before.used + 1)
    if standing.is_over_soft:
        await notice(session, tenant_id, standing, period_at(now), now)


async def _metered_events(session: AsyncSession, tenant_id: uuid.UUID, period: BillingPeriod) -> int:
    """The period's accepted events as metered (detail rows and, once retired, their monthly totals)."""
    usage = await usage_between(session, tenant_id, period.starts_at, period.ends_at)
    return usage["events_accepted"]


def _events_key(tenant_id: uuid.UUID, period: BillingPeriod) -> str:
    return f"{EVENTS_KEY}{tenant_id}:{period.key}"


async def events_used(
    session: AsyncSession, redis: Redis, tenant_id: uuid.UUID, period: BillingPeriod
) -> int:
    """Events accepted this period: Redis's count, or PostgreSQL's when Redis has none (then kept)."""
    key = _events_key(tenant_id, period)
    cached = await redis.get(key)
    if cached is not None:
        return int(cached)
    metered = await _metered_events(session, tenant_id, period)
    await redis.set(key, metered, nx=True, ex=EVENTS_KEY_TTL_SECONDS)
    return int(await redis.get(key) or metered)


async def check_new_events(
    session: AsyncSession, redis: Redis, tenant_id: uuid.UUID, now: datetime
) -> Quotas:
    """Refuse a batch once the month's hard limit is reached (429 until the month ends); the quotas.
    With Redis away, PostgreSQL's metered count decides: events are still taken while Redis is down."""
    quotas = await quotas_of(session, tenant_id)
    if quotas.events_per_month.hard is None:
        return quotas
    period = period_at(now)
    try:
        used = await events_used(session, redis, tenant_id, period)
    except RedisError as error:
        log.warning("quota.count_unavailable", error=str(error))
        used = await _metered_events(session, tenant_id, period)
    standing = _standing("events_per_month", quotas.events_per_month, used)
    if standing.is_full:
        renews = math.ceil((period.ends_at - now).total_seconds())
        raise QuotaExceededError(standing, retry_after=max(renews, 1))
    return quotas


async def events_accepted(
    session: AsyncSession, redis: Redis, tenant_id: uuid.UUID, quotas: Quotas, accepted: int, now: datetime
) -> None:
    """Count accepted events towards the month, and tell the partner when a limit is reached."""
    limits = quotas.events_per_month
    if accepted <= 0 or (limits.hard is None and limits.soft is None):
        return
    period = period_at(now)
    try:
        await events_used(session, redis, tenant_id, period)  # the key exists before it is added to
        used = int(await redis.incrby(_events_key(tenant_id, period), accepted))
    except RedisError as error:  # the batch is taken all the same; the count misses it until rebuilt
        log.warning("quota.count_unavailable", error=str(error))
        return
    standing = _standing("events_per_month", limits, used)
    before = _standing("events_per_month", limits, used - accepted)
    if (standing.is_over_soft and not before.is_over_soft) or (standing.is_full and not before.is_full):
        await notice(session, tenant_id, standing, period, now)


async def warnings(
    session: AsyncSession, redis: Redis, tenant_id: uuid.UUID, now: datetime
) -> list[QuotaStanding]:
    """The quotas at or past their soft limit now, for the portal's banner (the events quota is left out
    while Redis is away: a page must not fail for a banner)."""
    quotas = await quotas_of(session, tenant_id)
    found = [await connections_standing(session, tenant_id, quotas)]
    try:
        events = await events_used(session, redis, tenant_id, period_at(now))
        found.append(_standing("events_per_month", quotas.events_per_month, events))
    except RedisError as error:
        log.warning("quota.standing_unavailable", error=str(error))
    return [standing for standing in found if standing.is_over_soft]


async def notice(
    session: AsyncSession, tenant_id: uuid.UUID, standing: QuotaStanding, period: BillingPeriod, now: datetime
) -> bool:
    """Record that the retailer reached a limit this period and mail its partner's admins, once per quota,
    level and period; False when it was noticed already."""
    level = "hard" if standing.is_full else "soft"
    limit = standing.hard if level == "hard" else standing.soft
    inserted = await session.scalar(
        insert(QuotaNotice)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            quota=standing.quota,
            period=period.key,
            level=level,
            used=standing.used,
            limit=limit,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "quota", "period", "level"])
        .returning(QuotaNotice.id)
    )
    if inserted is None:
        return False
    await record_work(session, NOTIFY_QUOTA_TASK, {"notice_id": str(inserted)}, tenant_id=tenant_id)
    log.info("quota.noticed", tenant_id=str(tenant_id), quota=standing.quota, level=level, used=standing.used)
    return True


async def notify_quota(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: mail the partner's admins about a quota notice (read in the system scope: a retailer's
    scope, where the notice is written, cannot see its partner's people)."""
    async with ctx["db"].transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        found = (
            await session.execute(
                select(QuotaNotice, Tenant, Partner)
                .join(Tenant, Tenant.id == QuotaNotice.tenant_id)
                .join(Partner, Partner.id == Tenant.partner_id)
                .where(QuotaNotice.id == uuid.UUID(message.payload["notice_id"]))
            )
        ).first()
        if found is None:
            return "notice gone"
        notice_row, tenant, partner = found
        admins = (
            await session.scalars(
                select(User.email)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.partner_id == partner.id,
                    Membership.tenant_id.is_(None),
                    Membership.role == Role.PARTNER_ADMIN.value,
                )
                .order_by(User.email)
            )
        ).all()
        label = LABELS[notice_row.quota]
        what = "hard limit: new work is refused" if notice_row.level == "hard" else "soft limit"
        for address in admins:
            await queue_mail(
                session,
                to_address=address,
                from_name=partner.name,
                subject=f"{tenant.name} reached its {label} {what}",
                body=(
                    f"{tenant.name} ({tenant.slug}) is at {notice_row.used:,} {label} in "
                    f"{notice_row.period}, on plan {tenant.plan!r}; its {notice_row.level} limit is "
                    f"{notice_row.limit:,}.\n\n"
                    "Work already accepted is not affected. If this is expected, raise the plan's quotas or "
                    "move the retailer to another plan on the Plans page."
                ),
                partner_id=partner.id,
                correlation_id=message.correlation_id,
            )
    return f"mailed {len(admins)}"
