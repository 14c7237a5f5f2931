"""``GET /api/v1/usage?period=YYYY-MM``: the key's retailer's usage in a calendar month (UTC), with the
forecast for the month when it is in progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.state import services_of
from app.metering.periods import forecast, period_at, period_named
from app.metering.service import usage_between
from tenants.api_keys import ApiPrincipal


class UsageView(msgspec.Struct):
    period: str
    starts_at: datetime
    ends_at: datetime
    usage: dict[str, int]
    """records_synced (records destinations took), events_accepted (through the API), delivery_runs,
    api_calls (authenticated requests), active_connections (the most connections held at once)."""
    forecast: dict[str, int]
    """The period's usage at the pace so far (equal to ``usage`` once the period is over)."""
    elapsed: float
    """The share of the period gone by, 0 … 1."""


class UsageController(Controller):
    path = "/usage"
    tags = ["usage"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="GetUsage", guards=[requires_scope("usage:read")])
    async def usage(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        period: str | None = None,
    ) -> UsageView:
        """Figures per meter for ``period`` (default: the current month), counted once per unit of work."""
        now = services_of(request).clock.now()
        chosen = period_named(period) if period else period_at(now)
        used = await usage_between(session, principal.tenant_id, chosen.starts_at, chosen.ends_at)
        return UsageView(
            chosen.key,
            chosen.starts_at,
            chosen.ends_at,
            used,
            forecast(used, chosen, now),
            round(chosen.elapsed(now), 4),
        )
