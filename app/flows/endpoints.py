"""``/api/v1/flows`` and ``/api/v1/runs``: flows with their destinations, and the runs they recorded."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.flows.models import Flow, FlowDestination, Run
from app.flows.publish import queue_publish
from app.flows.pull import queue_pull
from app.flows.reconcile import queue_reconcile
from app.flows.service import (
    DestinationSpec,
    FlowRejectedError,
    SourceSpec,
    convert_or_note,
    create_flow,
    flow_destinations,
)
from app.flows.settings import FlowSettings
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.pagination import DEFAULT_LIMIT, Page, newest_first
from app.http.problems import Problem
from app.http.state import services_of
from tenants.api_keys import ApiPrincipal
from tenants.audit import record_audit


class DestinationView(msgspec.Struct):
    id: uuid.UUID
    connection_id: uuid.UUID
    recipe_id: uuid.UUID
    recipe_version: int | None
    allocation: dict[str, Any]


class FlowView(msgspec.Struct):
    id: uuid.UUID
    name: str
    domain: str
    trigger: str
    settings: dict[str, Any]
    is_enabled: bool
    destinations: list[DestinationView]
    created_at: datetime

    @classmethod
    def of(cls, flow: Flow, destinations: list[FlowDestination]) -> FlowView:
        return cls(
            flow.id,
            flow.name,
            flow.domain,
            flow.trigger,
            msgspec.to_builtins(msgspec.convert(flow.settings or {}, FlowSettings)),
            flow.is_enabled,
            [
                DestinationView(d.id, d.connection_id, d.recipe_id, d.recipe_version, d.allocation)
                for d in destinations
            ],
            flow.created_at,
        )


class RunView(msgspec.Struct):
    id: uuid.UUID
    flow_id: uuid.UUID
    destination_id: uuid.UUID | None
    kind: str
    status: str
    read: int
    written: int
    skipped: int
    failed: int
    errors: list[dict[str, Any]]
    details: dict[str, Any]
    correlation_id: str | None
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: Run) -> RunView:
        return cls(
            run.id,
            run.flow_id,
            run.destination_id,
            run.kind,
            run.status,
            run.read_count,
            run.written_count,
            run.skipped_count,
            run.failed_count,
            run.errors,
            run.details,
            run.correlation_id,
            run.started_at,
            run.finished_at,
        )


class DestinationInput(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: uuid.UUID
    recipe_id: uuid.UUID
    recipe_version: int | None = None
    allocation: dict[str, Any] | None = None


class SourceInput(msgspec.Struct, forbid_unknown_fields=True):
    connection_id: uuid.UUID
    recipe_id: uuid.UUID


class CreateFlow(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    domain: str
    destinations: list[DestinationInput]
    trigger: str = "event"
    source: SourceInput | None = None
    """None: records arrive through /api/v1/events. Else read from (or pushed by) this connection."""
    schedule: str | None = None
    """For ``trigger: schedule``: a cron expression (UTC), e.g. ``*/15 * * * *``."""
    settings: dict[str, Any] | None = None


class UpdateFlow(msgspec.Struct, forbid_unknown_fields=True):
    settings: dict[str, Any] | None = None
    is_enabled: bool | None = None


class TriggerRun(msgspec.Struct, forbid_unknown_fields=True):
    kind: str = "full"


def _rejected(problems: list[tuple[str, str]]) -> Problem:
    return Problem(
        422,
        f"The flow has {len(problems)} problem(s).",
        type_slug="invalid-flow",
        errors=[{"path": path, "reason": reason} for path, reason in problems],
    )


async def _flow(session: AsyncSession, principal: ApiPrincipal, flow_id: uuid.UUID) -> Flow:
    flow = await session.scalar(select(Flow).where(Flow.tenant_id == principal.tenant_id, Flow.id == flow_id))
    if flow is None:
        raise Problem(404, "No such flow.")
    return flow


class FlowController(Controller):
    path = "/flows"
    tags = ["flows"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListFlows", guards=[requires_scope("flows:read")])
    async def list_flows(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[FlowView]:
        """The tenant's flows, newest first, with their destinations."""
        page = await newest_first(
            session,
            select(Flow).where(Flow.tenant_id == principal.tenant_id),
            (Flow.created_at, Flow.id),
            limit,
            cursor,
            lambda f: f,
        )
        return Page(
            [FlowView.of(f, await flow_destinations(session, f.id)) for f in page.items], page.next_cursor
        )

    @post("/", operation_id="CreateFlow", guards=[requires_scope("flows:write")])
    async def create(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        data: CreateFlow,
    ) -> FlowView:
        """Create a flow: domain, destinations (connection, outbound recipe, allocation), settings."""
        try:
            flow = await create_flow(
                session,
                tenant_id=principal.tenant_id,
                partner_id=principal.partner_id,
                name=data.name,
                domain=data.domain,
                trigger=data.trigger,
                settings=data.settings,
                source=SourceSpec(data.source.connection_id, data.source.recipe_id) if data.source else None,
                schedule=data.schedule,
                now=services_of(request).clock.now(),
                destinations=[
                    DestinationSpec(d.connection_id, d.recipe_id, d.recipe_version, d.allocation)
                    for d in data.destinations
                ],
            )
        except FlowRejectedError as rejected:
            raise _rejected(rejected.problems) from None
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="flow.created",
            target_type="flow",
            target_id=flow.id,
            tenant_id=principal.tenant_id,
            changes={
                "after": {"name": flow.name, "domain": flow.domain, "destinations": len(data.destinations)}
            },
        )
        return FlowView.of(flow, await flow_destinations(session, flow.id))

    @get("/{flow_id:uuid}", operation_id="GetFlow", guards=[requires_scope("flows:read")])
    async def read(self, session: AsyncSession, principal: ApiPrincipal, flow_id: uuid.UUID) -> FlowView:
        """One flow with its destinations."""
        flow = await _flow(session, principal, flow_id)
        return FlowView.of(flow, await flow_destinations(session, flow.id))

    @patch("/{flow_id:uuid}", operation_id="UpdateFlow", guards=[requires_scope("flows:write")])
    async def update(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        flow_id: uuid.UUID,
        data: UpdateFlow,
    ) -> FlowView:
        """Change a flow's settings, or pause and resume it."""
        flow = await _flow(session, principal, flow_id)
        changes: dict[str, Any] = {}
        if data.settings is not None:
            problems: list[tuple[str, str]] = []
            checked = convert_or_note(
                FlowSettings, {**(flow.settings or {}), **data.settings}, "settings", problems
            )
            if problems:
                raise _rejected(problems)
            changes["settings"] = {"before": flow.settings, "after": msgspec.to_builtins(checked)}
            flow.settings = msgspec.to_builtins(checked)
        if data.is_enabled is not None and data.is_enabled != flow.is_enabled:
            changes["is_enabled"] = {"before": flow.is_enabled, "after": data.is_enabled}
            flow.is_enabled = data.is_enabled
        flow.updated_at = services_of(request).clock.now()
        if changes:
            await record_audit(
                session,
                request_actor(request, "api_key", principal.key_id),
                action="flow.updated",
                target_type="flow",
                target_id=flow.id,
                tenant_id=principal.tenant_id,
                changes=changes,
            )
        return FlowView.of(flow, await flow_destinations(session, flow.id))

    @get("/{flow_id:uuid}/runs", operation_id="ListFlowRuns", guards=[requires_scope("flows:read")])
    async def runs(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        flow_id: uuid.UUID,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[RunView]:
        """A flow's runs, newest first."""
        await _flow(session, principal, flow_id)
        query = select(Run).where(Run.tenant_id == principal.tenant_id, Run.flow_id == flow_id)
        return await newest_first(session, query, (Run.started_at, Run.id), limit, cursor, RunView.of)

    @post(
        "/{flow_id:uuid}/runs",
        operation_id="TriggerRun",
        guards=[requires_scope("flows:write")],
        status_code=202,
    )
    async def trigger(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        flow_id: uuid.UUID,
        data: TriggerRun,
    ) -> RunView:
        """Start a run now. ``reconcile`` reads the destinations back, records drift and corrects it.
        A flow with a source connection reads it: ``full`` from the start,
        ``incremental`` from the stored cursor (queued for a worker; follow it at /runs/{id}). A flow fed
        by the API has only ``full``: its whole canonical state is queued for every destination."""
        flow = await _flow(session, principal, flow_id)
        allowed = ("full", "incremental", "reconcile") if flow.source_connection_id else ("full", "reconcile")
        if data.kind not in allowed:
            raise Problem(
                422,
                f"This flow runs {' or '.join(allowed)}.",
                errors=[{"path": "kind", "reason": f"one of {allowed}"}],
            )
        now, correlation_id = services_of(request).clock.now(), correlation_id_of(request.scope)
        if data.kind == "reconcile":
            run = await queue_reconcile(session, flow, now, correlation_id)
        elif flow.source_connection_id:
            run = await queue_pull(session, flow, data.kind, now, correlation_id)
        else:
            run = await queue_publish(session, flow, now, correlation_id)
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="run.triggered",
            target_type="run",
            target_id=run.id,
            tenant_id=principal.tenant_id,
        )
        return RunView.of(run)


class RunController(Controller):
    path = "/runs"
    tags = ["flows"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListRuns", guards=[requires_scope("flows:read")])
    async def list_runs(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        flow: uuid.UUID | None = None,
        status: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[RunView]:
        """The tenant's runs, newest first; filter by ``flow`` and ``status``."""
        query = select(Run).where(Run.tenant_id == principal.tenant_id)
        if flow is not None:
            query = query.where(Run.flow_id == flow)
        if status is not None:
            query = query.where(Run.status == status)
        return await newest_first(session, query, (Run.started_at, Run.id), limit, cursor, RunView.of)

    @get("/{run_id:uuid}", operation_id="GetRun", guards=[requires_scope("flows:read")])
    async def read(self, session: AsyncSession, principal: ApiPrincipal, run_id: uuid.UUID) -> RunView:
        """One run with its counts and first errors."""
        run = await session.scalar(select(Run).where(Run.tenant_id == principal.tenant_id, Run.id == run_id))
        if run is None:
            raise Problem(404, "No such run.")
        return RunView.of(run)
