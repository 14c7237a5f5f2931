"""The retailer's alerts in the portal: its rules and the incidents open now (rules are changed through
``/api/v1/alert-rules``)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.response import Template
from sqlalchemy import select

from app.alerts.metrics import METRICS
from app.alerts.models import AlertIncident, AlertRule
from app.flows.models import Flow
from app.http.state import services_of
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from tenants.branding import Brand


class PortalAlertController(Controller):
    path = "/alerts"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    @get("/", operation_id="PortalAlerts")
    async def page(self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser) -> Template:
        """Open incidents first (newest first), then every rule with its condition and recipients."""
        tenant_id = retailer_of(portal_user, "Alerts")
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            found = await session.execute(select(Flow.id, Flow.name).where(Flow.tenant_id == tenant_id))
            flows: dict[uuid.UUID, str] = dict(found.all())
            rules = (
                await session.scalars(
                    select(AlertRule).where(AlertRule.tenant_id == tenant_id).order_by(AlertRule.name)
                )
            ).all()
            incidents = (
                await session.scalars(
                    select(AlertIncident)
                    .where(AlertIncident.tenant_id == tenant_id, AlertIncident.resolved_at.is_(None))
                    .order_by(AlertIncident.opened_at.desc(), AlertIncident.id.desc())
                )
            ).all()
        names = {rule.id: rule.name for rule in rules}
        context = {
            "brand": brand,
            "me": portal_user,
            "flows": flows,
            "metrics": METRICS,
            "rules": rules,
            "incidents": [
                {
                    "row": incident,
                    "rule": names.get(incident.rule_id, ""),
                    "flow": flows.get(incident.flow_id, ""),
                }
                for incident in incidents
            ],
        }
        return Template("alerts.html", context=context)
