"""Portal pages on what the engine did for a retailer: recent runs and a run's detail (per-record
errors, correlation id, drift), and promotions with their per-destination deployment status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy import select

from app.connections.models import Connection
from app.flows.models import Flow, FlowDestination, Run
from app.http.pagination import newest_first
from app.http.state import services_of
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from app.promotions.deployments import deployments_of
from app.promotions.http import DeploymentView
from app.promotions.models import PromotionEntry, PromotionTransition
from tenants.branding import Brand

PAGE_SIZE = 50


def _tenant_of(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "These pages")


class PortalActivityController(Controller):
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    @get("/runs", operation_id="PortalRuns")
    async def runs(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        before: str | None = None,
    ) -> Template:
        """The retailer's runs, newest first, a page at a time."""
        tenant_id = _tenant_of(portal_user)
        query = (
            select(Run, Flow.name)
            .join(Flow, Flow.id == Run.flow_id)
            .where(Run.tenant_id == tenant_id)
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(PAGE_SIZE + 1)
        )
        if before:
            try:
                query = query.where(Run.started_at < datetime.fromisoformat(before))
            except ValueError:
                raise NotFoundException("No such page.") from None
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            rows = (await session.execute(query)).all()
        shown = rows[:PAGE_SIZE]
        context = {
            "brand": brand,
            "me": portal_user,
            "runs": shown,
            "next_before": shown[-1][0].started_at.isoformat() if len(rows) > PAGE_SIZE else None,
        }
        return Template("runs.html", context=context)

    @get("/runs/{run_id:uuid}", operation_id="PortalRun")
    async def run(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, run_id: uuid.UUID
    ) -> Template:
        """One run: counts, timings, its correlation id, per-record errors and any drift found."""
        tenant_id = _tenant_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            found = (
                await session.execute(
                    select(Run, Flow.name)
                    .join(Flow, Flow.id == Run.flow_id)
                    .where(Run.id == run_id, Run.tenant_id == tenant_id)
                )
            ).first()
            if found is None:
                raise NotFoundException("No such run.")
            run, flow_name = found
            destination = None
            if run.destination_id is not None:
                destination = await session.scalar(
                    select(Connection.name)
                    .join(FlowDestination, FlowDestination.connection_id == Connection.id)
                    .where(FlowDestination.id == run.destination_id)
                )
        context = {
            "brand": brand,
            "me": portal_user,
            "run": run,
            "flow_name": flow_name,
            "destination": destination,
        }
        return Template("run.html", context=context)

    @get("/promotions", operation_id="PortalPromotions")
    async def promotions(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        cursor: str | None = None,
    ) -> Template:
        """The retailer's promotions, newest first, a page at a time."""
        tenant_id = _tenant_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            page = await newest_first(
                session,
                select(PromotionEntry).where(PromotionEntry.tenant_id == tenant_id),
                (PromotionEntry.created_at, PromotionEntry.id),
                PAGE_SIZE,
                cursor,
                lambda entry: entry,
            )
        context = {
            "brand": brand,
            "me": portal_user,
            "promotions": page.items,
            "next_cursor": page.next_cursor,
        }
        return Template("promotions.html", context=context)

    async def _promotion(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, promotion_id: uuid.UUID
    ) -> dict[str, Any]:
        tenant_id = _tenant_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            entry = await session.scalar(
                select(PromotionEntry).where(
                    PromotionEntry.id == promotion_id, PromotionEntry.tenant_id == tenant_id
                )
            )
            if entry is None:
                raise NotFoundException("No such promotion.")
            deployments = [DeploymentView.of(d) for d in await deployments_of(session, entry.id)]
            history = (
                await session.scalars(
                    select(PromotionTransition)
                    .where(PromotionTransition.promotion_id == entry.id)
                    .order_by(PromotionTransition.id)
                )
            ).all()
        return {"promotion": entry, "deployments": deployments, "history": history}

    @get("/promotions/{promotion_id:uuid}", operation_id="PortalPromotion")
    async def promotion(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, promotion_id: uuid.UUID
    ) -> Template:
        """A promotion's state, history and deployment on each destination (refreshing in place)."""
        context = {
            "brand": brand,
            "me": portal_user,
            **await self._promotion(request, portal_user, promotion_id),
        }
        return Template("promotion.html", context=context)

    @get("/promotions/{promotion_id:uuid}/deployments", operation_id="PortalPromotionDeployments")
    async def deployments(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, promotion_id: uuid.UUID
    ) -> Template:
        """The deployment rows alone, for htmx's polling."""
        return Template(
            "partials/deployment_rows.html", context=await self._promotion(request, portal_user, promotion_id)
        )
