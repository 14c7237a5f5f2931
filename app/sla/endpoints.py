"""``GET /api/v1/sla-reports?period=YYYY-MM[&format=csv|pdf]``: the key's retailer's SLA report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.problems import Problem
from app.http.state import services_of
from app.metering.periods import period_at, period_named
from app.plans.service import terms_of
from app.sla.documents import sla_csv, sla_pdf
from app.sla.report import SlaReport, sla_report
from tenants.api_keys import ApiPrincipal
from tenants.branding import Brand
from tenants.models import Partner, Tenant


class ObjectiveView(msgspec.Struct):
    objective: str
    label: str
    unit: str
    target: float
    direction: str
    """``at_most`` (breached above the target) or ``at_least`` (breached below it)."""
    measured: float | None
    samples: int
    breached: bool
    credit_percent: float


class SlaReportView(msgspec.Struct):
    period: str
    plan: str
    final: bool
    """False while the period runs (figures so far)."""
    measured_at: datetime
    objectives: list[ObjectiveView]
    credit_percent: float


def report_view(report: SlaReport) -> SlaReportView:
    return SlaReportView(
        report.period.key,
        report.plan,
        report.is_final,
        report.measured_at,
        [
            ObjectiveView(
                r.key,
                r.label,
                r.unit,
                r.target,
                r.direction,
                r.measured,
                r.samples,
                r.breached,
                r.credit_percent,
            )
            for r in report.objectives
        ],
        report.credit_percent,
    )


def report_download(report: SlaReport, brand: Brand, form: str) -> Response[Any]:
    """The report as a CSV or PDF attachment named after the retailer and period."""
    name = f"sla-{report.tenant_name.lower().replace(' ', '-')}-{report.period.key}"
    if form == "csv":
        return Response(
            sla_csv(report, brand),
            media_type="text/csv",  # Litestar adds the charset of text types
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        sla_pdf(report, brand),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


async def tenant_report(
    session: AsyncSession, tenant: Tenant, period: str | None, now: datetime
) -> SlaReport:
    chosen = period_named(period) if period else period_at(now)
    return await sla_report(
        session, tenant.id, tenant.name, tenant.plan, await terms_of(session, tenant), chosen, now
    )


@dataclass
class SlaReportOperation(Operation):
    """The OpenAPI of ``GetSlaReport``: its 200 is JSON, or a CSV or PDF attachment (``format=``)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content["text/csv"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
            ok.content["application/pdf"] = OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            )


class SlaReportController(Controller):
    path = "/sla-reports"
    tags = ["usage"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get(
        "/",
        operation_id="GetSlaReport",
        guards=[requires_scope("usage:read")],
        operation_class=SlaReportOperation,
    )
    async def report(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        period: str | None = None,
        format: Literal["json", "csv", "pdf"] = "json",
    ) -> Response[Any]:
        """Target, measured, breach and credit per objective of the plan, from the period's raw facts."""
        found = (
            await session.execute(
                select(Tenant, Partner).join(Partner).where(Tenant.id == principal.tenant_id)
            )
        ).first()
        if found is None:
            raise Problem(404, "The key's tenant no longer exists.")
        tenant, partner = found
        report = await tenant_report(session, tenant, period, services_of(request).clock.now())
        if format == "json":
            return Response(report_view(report))
        return report_download(report, Brand.of(partner), format)
