"""Billing periods (calendar months, UTC) named ``YYYY-MM``, and the forecast of a period in progress."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from app.http.problems import Problem
from app.metering.service import GAUGE_KIND

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    key: str
    starts_at: datetime
    ends_at: datetime

    def elapsed(self, now: datetime) -> float:
        """The share of the period gone by at ``now``, 0 … 1."""
        whole = (self.ends_at - self.starts_at).total_seconds()
        gone = (min(max(now, self.starts_at), self.ends_at) - self.starts_at).total_seconds()
        return gone / whole

    def previous(self) -> BillingPeriod:
        year, month = self.starts_at.year, self.starts_at.month
        return period_named(f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}")


def period_named(key: str) -> BillingPeriod:
    """The month ``key`` names; a 422 problem (path ``period``) when it is not ``YYYY-MM``."""
    found = _PERIOD.match(key)
    if found is None:
        raise Problem(
            422, "The period is a month, YYYY-MM.", errors=[{"path": "period", "reason": "write YYYY-MM"}]
        )
    year, month = int(found.group(1)), int(found.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    return BillingPeriod(key, start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC))


def period_at(now: datetime) -> BillingPeriod:
    return period_named(now.astimezone(UTC).strftime("%Y-%m"))


def forecast(usage: dict[str, int], period: BillingPeriod, now: datetime) -> dict[str, int]:
    """Where each meter will end the period at the pace so far: sums scale with the time gone by; the
    connections gauge is already a maximum, so it stays as measured. A period over is its usage."""
    share = period.elapsed(now)
    if share >= 1:
        return dict(usage)
    return {
        kind: total if kind == GAUGE_KIND or share == 0 else round(total / share)
        for kind, total in usage.items()
    }
