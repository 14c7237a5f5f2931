"""``POST /api/v1/events/{inventory|prices|orders}``: batches of up to 10,000 items, stored before the 202."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.correlation import correlation_id_of
from app.http.problems import Problem
from app.http.state import services_of
from app.ingress.idempotency import digest, earlier_answer, idempotency_key, remember
from app.ingress.service import DOMAINS, MAX_ITEMS, ingest
from app.metering.service import meter
from app.plans.quotas import QuotaExceededError, check_new_events, events_accepted, quota_problem
from tenants.api_keys import ApiPrincipal


class EventBatch(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[Any], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class EventErrorView(msgspec.Struct):
    index: int
    field: str
    reason: str


class IngestView(msgspec.Struct):
    accepted: int
    duplicate: int
    rejected: int
    stale: int
    errors: list[EventErrorView]
    correlation_id: str


class EventController(Controller):
    path = "/events"
    tags = ["events"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @post(
        "/{domain:str}", operation_id="PushEvents", guards=[requires_scope("events:write")], status_code=202
    )
    async def push(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        domain: str,
        data: EventBatch,
    ) -> Response[Any]:
        """Validate each item against the canonical model, drop duplicates, store and apply the rest.

        429 ``quota-exceeded`` (with ``Retry-After``, the month's end) once the plan's events a month are
        used up; a batch under the limit is taken whole.

        202 with accepted / duplicate / rejected / stale counts and per-item errors (index, field,
        reason). ``stale`` items are older than the stored ``source_version`` and were recorded, not
        applied. Honours ``Idempotency-Key``."""
        if domain not in DOMAINS:
            raise Problem(404, f"No event stream {domain!r}; use one of {', '.join(DOMAINS)}.")
        key = idempotency_key(request)
        request_digest = digest(await request.body())
        if key is not None:
            earlier = await earlier_answer(session, principal.tenant_id, key, request_digest)
            if earlier is not None:
                return Response(
                    earlier.body, status_code=earlier.status_code, headers={"Idempotent-Replay": "true"}
                )
        correlation_id = correlation_id_of(request.scope)
        services = services_of(request)
        now = services.clock.now()
        try:
            quotas = await check_new_events(session, services.redis, principal.tenant_id, now)
        except QuotaExceededError as error:
            raise quota_problem(error) from None
        outcome = await ingest(
            session, principal.tenant_id, domain, data.items, now=now, correlation_id=correlation_id
        )
        await events_accepted(session, services.redis, principal.tenant_id, quotas, outcome.accepted, now)
        # counted with the events, in their transaction: a replayed request (Idempotency-Key) counts nothing
        await meter(
            session, principal.tenant_id, "events_accepted", outcome.accepted, f"ingest:{uuid.uuid4()}", now
        )
        view = IngestView(
            outcome.accepted,
            outcome.duplicate,
            outcome.rejected,
            outcome.stale,
            [EventErrorView(**error) for error in outcome.errors],
            correlation_id,
        )
        body: dict[str, Any] = msgspec.to_builtins(view)
        if key is not None:
            remember(session, principal.tenant_id, key, request_digest, 202, body)
        return Response(body, status_code=202)
