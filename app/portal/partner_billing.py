"""The partner's bill from the platform: its Stripe subscription, this month's usage as reported to
Stripe (sent and waiting), the invoices Stripe's webhooks told us of, and the last reconciliation."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.response import Template
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on

from app.billing.models import BillingAccount, BillingReconciliation, MeterReport, PartnerInvoice
from app.http.state import services_of
from app.metering.periods import period_at
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user
from tenants.branding import Brand


class PortalPartnerBillingController(Controller):
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    @get("/partner/billing", operation_id="PortalPartnerBilling")
    async def billing(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Template:
        """Subscription, the month's metered usage by status, Stripe invoices, the last reconciliation."""
        partner_id = partner_of(portal_user, "The platform bill")
        services = services_of(request)
        month = period_at(services.clock.now())
        async with services.db.transaction(portal_user.db_scope()) as session:
            account = await session.scalar(
                select(BillingAccount).where(BillingAccount.partner_id == partner_id)
            )
            reported: dict[str, dict[str, int]] = {}
            for kind, status, total in await session.execute(
                select(MeterReport.kind, MeterReport.status, func.sum(MeterReport.value))
                .where(
                    MeterReport.partner_id == partner_id,
                    MeterReport.window_start >= month.starts_at,
                    MeterReport.window_start < month.ends_at,
                )
                .group_by(MeterReport.kind, MeterReport.status)
            ):
                reported.setdefault(kind, {})[status] = int(total)
            invoices = list(
                await session.scalars(
                    select(PartnerInvoice)
                    .where(PartnerInvoice.partner_id == partner_id)
                    .order_by(PartnerInvoice.period_start.desc())
                    .limit(24)
                )
            )
            checks = list(
                await session.scalars(
                    select(BillingReconciliation)
                    .where(BillingReconciliation.partner_id == partner_id)
                    .order_by(BillingReconciliation.kind, BillingReconciliation.checked_at.desc())
                    .ext(distinct_on(BillingReconciliation.kind))
                )
            )
        context = {
            "brand": brand,
            "me": portal_user,
            "account": account,
            "month": month,
            "reported": reported,
            "invoices": invoices,
            "checks": checks,
        }
        return Template("partner_billing.html", context=context)
