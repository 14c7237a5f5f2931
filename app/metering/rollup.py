"""Retiring old usage events: what they counted moves into ``usage_totals`` (per tenant, month and kind)
in the statement that deletes them, so billing figures outlive the events and their partitions.

A period's usage is then its totals plus the events still stored (``usage_between``). Sums add up; the
connections gauge keeps the month's largest count in force, which also depends on the last sample
before the month (the count in force when it began). So before the samples older than the cutoff go:
- each month from the tenant's first retired sample through the cutoff's month gets the count in force
  at its start as a gauge total (a month without samples of its own keeps its figure);
- the count in force at the cutoff is written again as a sample at the cutoff itself, for the months
  after it; neither changes any period's figure (those counts were in force then).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, DateTime, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.metering.service import GAUGE_KIND

_CARRY = """
INSERT INTO usage_events (tenant_id, kind, quantity, idempotency_key, occurred_at)
SELECT DISTINCT ON (e.tenant_id) e.tenant_id, e.kind, e.quantity, :carry_key, :cutoff
FROM usage_events e
WHERE e.kind = :gauge AND e.occurred_at < :cutoff{tenant}
  AND NOT EXISTS (
      SELECT 1 FROM usage_events s
      WHERE s.tenant_id = e.tenant_id AND s.kind = :gauge AND s.occurred_at = :cutoff)
ORDER BY e.tenant_id, e.occurred_at DESC, e.id DESC
ON CONFLICT (tenant_id, idempotency_key, occurred_at) DO NOTHING
"""

_GAUGE_MONTHS = """
INSERT INTO usage_totals (tenant_id, period, kind, quantity)
SELECT t.tenant_id, to_char(m.month, 'YYYY-MM'), :gauge, (
    SELECT e.quantity FROM usage_events e
    WHERE e.tenant_id = t.tenant_id AND e.kind = :gauge AND e.occurred_at < m.month AT TIME ZONE 'UTC'
    ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)
FROM (
    SELECT tenant_id, min(occurred_at) AS first FROM usage_events
    WHERE kind = :gauge AND occurred_at < :cutoff{tenant}
    GROUP BY tenant_id
) AS t,
LATERAL generate_series(
    date_trunc('month', t.first AT TIME ZONE 'UTC') + interval '1 month',
    date_trunc('month', :cutoff AT TIME ZONE 'UTC'),
    interval '1 month') AS m(month)
ON CONFLICT (tenant_id, period, kind)
DO UPDATE SET quantity = greatest(usage_totals.quantity, excluded.quantity)
"""

_ROLL_UP = """
WITH gone AS (
    DELETE FROM usage_events WHERE occurred_at < :cutoff{tenant}
    RETURNING tenant_id, kind, quantity, occurred_at
), rolled AS (
INSERT INTO usage_totals (tenant_id, period, kind, quantity)
SELECT tenant_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM'), kind,
       CASE WHEN kind = :gauge THEN max(quantity) ELSE sum(quantity)::bigint END
FROM gone
GROUP BY 1, 2, 3
ON CONFLICT (tenant_id, period, kind) DO UPDATE SET quantity = CASE
    WHEN usage_totals.kind = :gauge THEN greatest(usage_totals.quantity, excluded.quantity)
    ELSE usage_totals.quantity + excluded.quantity
END
)
SELECT count(*) FROM gone
"""


async def retire_usage(session: AsyncSession, cutoff: datetime, tenant_id: uuid.UUID | None = None) -> int:
    """Delete the usage events before ``cutoff`` (of one tenant, or all), adding them into
    ``usage_totals``; the number of events retired."""
    params: dict[str, object] = {"cutoff": cutoff, "gauge": GAUGE_KIND}
    if tenant_id is not None:
        params["tenant_id"] = tenant_id
    binds: list[BindParameter[Any]] = [bindparam("cutoff", type_=DateTime(timezone=True))]
    if tenant_id is not None:
        binds.append(bindparam("tenant_id", type_=Uuid()))
    one = tenant_id is not None
    months = _GAUGE_MONTHS.format(tenant=" AND tenant_id = :tenant_id" if one else "")
    await session.execute(text(months).bindparams(*binds), params)
    carry = _CARRY.format(tenant=" AND e.tenant_id = :tenant_id" if one else "")
    await session.execute(
        text(carry).bindparams(*binds), {**params, "carry_key": f"connections-carried:{cutoff.isoformat()}"}
    )
    roll_up = _ROLL_UP.format(tenant=" AND tenant_id = :tenant_id" if one else "")
    # a data-modifying CTE runs whether or not the outer query reads it: the totals are written
    retired = await session.scalar(text(roll_up).bindparams(*binds), params)
    return int(retired or 0)
