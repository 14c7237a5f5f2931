"""Retailer pages on what the sync costs: usage so far with the month's forecast, the SLA report (with
CSV and PDF downloads, branded), and invoices (issued ones frozen, the running month as a draft; CSV)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.state import services_of
from app.invoicing.models import RetailerInvoice
from app.invoicing.pricing import price_usage, rounded
from app.invoicing.service import invoices_of, statement_of
from app.metering.periods import BillingPeriod, forecast, period_at, period_named
from app.plans.quotas import warnings
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from app.sla.endpoints import report_download
from tenants.branding import Brand
from tenants.models import Tenant


def _tenant_id(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "Usage, SLA reports and invoices")


async def _tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundException("No such retailer.")
    return tenant


def invoice_csv(period: str, currency: str, lines: list[dict[str, Any]], totals: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["period", "kind", "description", "quantity", "included", "billable", "amount", "currency"]
    )
    for line in lines:
        writer.writerow(
            [
                period,
                line["kind"],
                line["description"],
                line["quantity"],
                line["included"],
                line["billable"],
                line["amount"],
                currency,
            ]
        )
    for name, value in totals.items():
        writer.writerow([period, name, "", "", "", "", value, currency])
    return out.getvalue()


class PortalBillingController(Controller):
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    def _period(self, request: Request[Any, Any, Any], period: str | None) -> BillingPeriod:
        return period_named(period) if period else period_at(services_of(request).clock.now())

    @get("/usage", operation_id="PortalUsage")
    async def usage(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        period: str | None = None,
    ) -> Template:
        """The period's usage per meter, the forecast for its end, and the charges both come to."""
        tenant_id = _tenant_id(portal_user)
        chosen = self._period(request, period)
        services = services_of(request)
        now = services.clock.now()
        async with services.db.transaction(portal_user.db_scope()) as session:
            statement = await statement_of(session, await _tenant(session, tenant_id), chosen, now)
            quota_warnings = await warnings(session, services.redis, tenant_id, now)
        expected = forecast(statement.usage, chosen, now)
        terms = statement.terms
        context = {
            "brand": brand,
            "me": portal_user,
            "period": chosen,
            "previous": chosen.previous().key,
            "elapsed": chosen.elapsed(now),
            "usage": statement.usage,
            "forecast": expected,
            "included": {rate.meter: rate.included for rate in terms.rate_card.meters},
            "so_far": statement.priced,
            "at_forecast": price_usage(terms.rate_card, expected, 0.0),
            "quota_warnings": quota_warnings,
        }
        return Template("usage.html", context=context)

    @get("/sla", operation_id="PortalSlaReport")
    async def sla(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        period: str | None = None,
    ) -> Template:
        """Target, measured, breach and credit per objective of the retailer's plan."""
        tenant_id = _tenant_id(portal_user)
        chosen = self._period(request, period)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await _tenant(session, tenant_id)
            statement = await statement_of(session, tenant, chosen, services_of(request).clock.now())
        context = {
            "brand": brand,
            "me": portal_user,
            "report": statement.sla,
            "previous": chosen.previous().key,
        }
        return Template("sla.html", context=context)

    @get("/sla/download", operation_id="PortalSlaDownload")
    async def sla_download(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        period: str | None = None,
        format: str = "pdf",
    ) -> Response[Any]:
        """The SLA report as a CSV or PDF, branded with the partner."""
        if format not in ("csv", "pdf"):
            raise NotFoundException("Reports download as csv or pdf.")
        tenant_id = _tenant_id(portal_user)
        chosen = self._period(request, period)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await _tenant(session, tenant_id)
            statement = await statement_of(session, tenant, chosen, services_of(request).clock.now())
        return report_download(statement.sla, brand, format)

    @get("/invoices", operation_id="PortalInvoices")
    async def invoices(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Template:
        """Issued invoices, newest first, and the running month's draft."""
        tenant_id = _tenant_id(portal_user)
        now = services_of(request).clock.now()
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            tenant = await _tenant(session, tenant_id)
            draft = await statement_of(session, tenant, period_at(now), now)
            issued = await invoices_of(session, tenant_id)
        context = {"brand": brand, "me": portal_user, "draft": draft, "issued": issued}
        return Template("invoices.html", context=context)

    async def _invoice(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, period: str
    ) -> tuple[dict[str, Any], bool]:
        """The invoice of ``period`` as shown: issued (frozen), or a draft computed now."""
        tenant_id = _tenant_id(portal_user)
        chosen = period_named(period)
        now = services_of(request).clock.now()
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            row = await session.scalar(
                select(RetailerInvoice).where(
                    RetailerInvoice.tenant_id == tenant_id, RetailerInvoice.period == chosen.key
                )
            )
            if row is not None:
                return {
                    "period": row.period,
                    "plan": row.plan,
                    "currency": row.currency,
                    "lines": row.lines,
                    "totals": {
                        name: str(rounded(getattr(row, name), row.currency))
                        for name in ("subtotal", "credit", "total")
                    },
                }, True
            if chosen.starts_at > now:
                raise NotFoundException("That period has not begun.")
            statement = await statement_of(session, await _tenant(session, tenant_id), chosen, now)
        priced = statement.priced
        return {
            "period": chosen.key,
            "plan": statement.tenant.plan,
            "currency": priced.currency,
            "lines": [
                {
                    "kind": line.kind,
                    "description": line.description,
                    "quantity": line.quantity,
                    "included": line.included,
                    "billable": line.billable,
                    "amount": str(line.amount),
                }
                for line in priced.lines
            ],
            "totals": {
                "subtotal": str(priced.subtotal),
                "credit": str(priced.credit),
                "total": str(priced.total),
            },
        }, False

    @get("/invoices/{period:str}", operation_id="PortalInvoice")
    async def invoice(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, period: str
    ) -> Template:
        """One invoice's lines: base fee, each meter (included, billable, amount), SLA credit, totals."""
        shown, issued = await self._invoice(request, portal_user, period)
        context = {"brand": brand, "me": portal_user, "invoice": shown, "issued": issued}
        return Template("invoice.html", context=context)

    @get("/invoices/{period:str}/csv", operation_id="PortalInvoiceCsv")
    async def invoice_download(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, period: str
    ) -> Response[str]:
        """The invoice as CSV: one row per line, then the totals."""
        shown, _ = await self._invoice(request, portal_user, period)
        return Response(
            invoice_csv(shown["period"], shown["currency"], shown["lines"], shown["totals"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="invoice-{shown["period"]}.csv"'},
        )
