"""``GET /api/v1/usage?period=YYYY-MM``: the key's retailer's usage in a calendar month (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.problems import Problem
from app.http.state import services_of
from app.metering.service import usage_between
from tenants.api_keys import ApiPrincipal

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class UsageView(msgspec.Struct):
    period: str
    starts_at: datetime
    ends_at: datetime
    usage: dict[str, int]
    """records_synced (records destinations took), events_accepted (through the API), delivery_runs."""


def month_of(period: str) -> tuple[datetime, datetime]:
    found = _PERIOD.match(period)
    if found is None:
        raise Problem(
            422, "The period is a month, YYYY-MM.", errors=[{"path": "period", "reason": "write YYYY-MM"}]
        )
    year, month = int(found.group(1)), int(found.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


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
        """Totals per kind for ``period`` (default: the current month), counted once per unit of work."""
        chosen = period or services_of(request).clock.now().strftime("%Y-%m")
        start, end = month_of(chosen)
        return UsageView(chosen, start, end, await usage_between(session, principal.tenant_id, start, end))
