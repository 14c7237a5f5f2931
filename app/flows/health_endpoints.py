"""``GET /api/v1/health``: the key's retailer's sync health over the last hour, per flow, with the
rules that give each badge (``app/flows/health.py``)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.flows.health import (
    DEGRADED_BELOW,
    FAILING_BELOW,
    LATE_PROMOTION,
    STALE_BACKLOG,
    WINDOW,
    FlowHealth,
    flow_health,
    worst,
)
from app.http.state import services_of
from tenants.api_keys import ApiPrincipal


class FlowHealthView(msgspec.Struct):
    id: uuid.UUID
    name: str
    domain: str
    status: str
    reasons: list[str]
    runs: int
    delivered: int
    failed: int
    success_rate: float | None
    latency_ms: dict[str, float | None]
    """Received → acknowledged per record delivered: p50, p95, p99 (histogram edges, ≤ 10 % above)."""
    backlog: int
    oldest_due_seconds: float | None
    dead_letters_open: int
    dead_letters_recent: int
    drifted: int | None
    """Entities the last reconciliation found different from the canonical state (null: never ran)."""
    promotion_lateness_ms: int | None
    """The latest a promotion went live on this flow's destinations in the window."""

    @classmethod
    def of(cls, health: FlowHealth) -> FlowHealthView:
        return cls(
            health.flow_id,
            health.name,
            health.domain,
            health.status,
            health.reasons,
            health.runs,
            health.delivered,
            health.failed,
            health.success_rate,
            health.latency_ms,
            health.backlog,
            health.oldest_due_seconds,
            health.dead_letters_open,
            health.dead_letters_recent,
            health.drifted,
            health.promotion_lateness_ms,
        )


class HealthView(msgspec.Struct):
    status: str
    window_seconds: float
    rules: dict[str, Any]
    flows: list[FlowHealthView]


RULES = {
    "failing": f"less than {FAILING_BELOW:.1%} of records delivered, or a dead letter written, in the window",
    "degraded": f"less than {DEGRADED_BELOW:.1%} delivered, open dead letters, work due for more than "
    f"{STALE_BACKLOG.total_seconds() / 60:.0f} minutes, drift found by the last reconciliation, or a "
    f"promotion live more than {LATE_PROMOTION.total_seconds():.0f} s after its window opened",
    "ok": "otherwise",
}


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="GetSyncHealth", guards=[requires_scope("health:read")])
    async def health(
        self, request: Request[Any, Any, Any], session: AsyncSession, principal: ApiPrincipal
    ) -> HealthView:
        """Each flow's figures over the last hour and its badge (ok, degraded, failing); the retailer's
        status is its worst flow's."""
        flows = await flow_health(session, [principal.tenant_id], services_of(request).clock.now())
        return HealthView(
            worst(f.status for f in flows),
            WINDOW.total_seconds(),
            RULES,
            [FlowHealthView.of(f) for f in flows],
        )
