"""``/api/v1/dead-letters``: deliveries given up on, listed and inspected, then replayed (as they were or
with a payload fixed by hand) or discarded by people; every replay and discard is audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.delivery.dead_letters import discard_dead_letter, replay_dead_letter
from app.delivery.models import DeadLetter
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.pagination import DEFAULT_LIMIT, Page, keyset_page
from app.http.problems import Problem
from app.http.state import services_of
from connectors.canonical import CanonicalError, parse_record, to_builtins
from tenants.api_keys import ApiPrincipal

DeadLetterStatus = Literal["open", "replayed", "discarded"]
DeadLetterId = Annotated[int, Parameter(ge=1, le=2**63 - 1)]
"""A dead letter's id in a path: a positive BIGINT (larger ones are refused, not sent to PostgreSQL)."""


class DeadLetterView(msgspec.Struct):
    id: int
    destination_id: uuid.UUID
    entity_key: str
    record_type: str
    payload: dict[str, Any]
    error: str
    attempts: int
    status: str
    correlation_id: str | None
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: DeadLetter) -> DeadLetterView:
        return cls(
            row.id,
            row.destination_id,
            row.entity_key,
            row.record_type,
            row.payload,
            row.error,
            row.attempts,
            row.status,
            row.correlation_id,
            row.created_at,
            row.resolved_at,
        )


class ReplayDeadLetter(msgspec.Struct, forbid_unknown_fields=True):
    """Leave ``payload`` out to replay the payload as it failed; give it to replay a fixed one."""

    payload: dict[str, Any] | None = None


async def _open_dead_letter(session: AsyncSession, tenant_id: uuid.UUID, dead_letter_id: int) -> DeadLetter:
    """The tenant's dead letter, locked so two people cannot both replay it; 404 or 409 otherwise."""
    row = await session.scalar(
        select(DeadLetter)
        .where(DeadLetter.tenant_id == tenant_id, DeadLetter.id == dead_letter_id)
        .with_for_update()
    )
    if row is None:
        raise Problem(404, "No such dead letter.")
    if row.status != "open":
        raise Problem(
            409,
            f"Dead letter {row.id} is already {row.status}.",
            type_slug="dead-letter-resolved",
            current_status=row.status,
        )
    return row


def _edited_payload(row: DeadLetter, payload: dict[str, Any]) -> dict[str, Any]:
    """A hand-fixed payload, checked against the canonical model of the dead letter's record type."""
    try:
        record = parse_record(row.record_type, payload)
    except CanonicalError as error:
        raise Problem(
            422,
            f"The payload is not a valid {row.record_type}: {error.reason}.",
            type_slug="invalid-payload",
            errors=[{"path": f"payload.{error.path}".rstrip("."), "reason": error.reason}],
        ) from None
    edited: dict[str, Any] = to_builtins(record)
    return edited


class DeadLetterController(Controller):
    path = "/dead-letters"
    tags = ["dead letters"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListDeadLetters", guards=[requires_scope("dead_letters:read")])
    async def list_dead_letters(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        status: DeadLetterStatus = "open",
        destination: uuid.UUID | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[DeadLetterView]:
        """The tenant's dead letters of one status (open unless asked), newest first."""
        query = select(DeadLetter).where(
            DeadLetter.tenant_id == principal.tenant_id, DeadLetter.status == status
        )
        if destination is not None:
            query = query.where(DeadLetter.destination_id == destination)
        return await keyset_page(
            session,
            query,
            (DeadLetter.created_at, DeadLetter.id),
            limit,
            cursor,
            DeadLetterView.of,
            is_descending=True,
        )

    @get("/{dead_letter_id:int}", operation_id="GetDeadLetter", guards=[requires_scope("dead_letters:read")])
    async def read(
        self, session: AsyncSession, principal: ApiPrincipal, dead_letter_id: DeadLetterId
    ) -> DeadLetterView:
        """One dead letter: its payload, the last error, attempts, correlation id and status."""
        row = await session.scalar(
            select(DeadLetter).where(
                DeadLetter.tenant_id == principal.tenant_id, DeadLetter.id == dead_letter_id
            )
        )
        if row is None:
            raise Problem(404, "No such dead letter.")
        return DeadLetterView.of(row)

    @post(
        "/{dead_letter_id:int}/replay",
        operation_id="ReplayDeadLetter",
        guards=[requires_scope("dead_letters:write")],
        status_code=200,
    )
    async def replay(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        dead_letter_id: DeadLetterId,
        data: ReplayDeadLetter | None = None,
    ) -> DeadLetterView:
        """Queue the payload (or a fixed ``payload``, validated and audited before/after) for its
        destination now, as urgent work; it is mapped through the destination's current recipe when
        it is delivered. 409 unless the dead letter is open."""
        row = await _open_dead_letter(session, principal.tenant_id, dead_letter_id)
        fix = data.payload if data is not None else None
        await replay_dead_letter(
            session,
            row,
            request_actor(request, "api_key", principal.key_id),
            services_of(request).clock.now(),
            correlation_id_of(request.scope),
            None if fix is None else _edited_payload(row, fix),
        )
        return DeadLetterView.of(row)

    @post(
        "/{dead_letter_id:int}/discard",
        operation_id="DiscardDeadLetter",
        guards=[requires_scope("dead_letters:write")],
        status_code=200,
    )
    async def discard(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        dead_letter_id: DeadLetterId,
    ) -> DeadLetterView:
        """Give up on a dead letter for good; 409 unless it is open."""
        row = await _open_dead_letter(session, principal.tenant_id, dead_letter_id)
        await discard_dead_letter(
            session,
            row,
            request_actor(request, "api_key", principal.key_id),
            services_of(request).clock.now(),
        )
        return DeadLetterView.of(row)
