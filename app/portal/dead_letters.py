"""The retailer's dead letters in the portal: filter by status, inspect payload and error, replay or
discard one or many (audited, as through the API)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from sqlalchemy import select

from app.connections.models import Connection
from app.delivery.dead_letters import discard_dead_letter, open_dead_letters, replay_dead_letter
from app.delivery.models import DeadLetter
from app.flows.models import FlowDestination
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.state import services_of
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from tenants.branding import Brand

PAGE_SIZE = 50
Status = Literal["open", "replayed", "discarded"]


class ActionForm(msgspec.Struct):
    action: str = ""
    ids: list[str] | str = msgspec.field(default_factory=list)  # one checkbox arrives as a str


def _tenant_of(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "Dead letters")


class PortalDeadLetterController(Controller):
    path = "/dead-letters"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    @get("/", operation_id="PortalDeadLetters")
    async def page(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        status: Status = "open",
        before: Annotated[int | None, Parameter(ge=1, le=2**63 - 1)] = None,
        done: int | None = None,
        skipped: int | None = None,
    ) -> Template:
        """Newest first, a page at a time; each row's payload and error can be opened."""
        tenant_id = _tenant_of(portal_user)
        query = (
            select(DeadLetter, Connection.name)
            .join(FlowDestination, FlowDestination.id == DeadLetter.destination_id)
            .join(Connection, Connection.id == FlowDestination.connection_id)
            .where(DeadLetter.tenant_id == tenant_id, DeadLetter.status == status)
            .order_by(DeadLetter.id.desc())
            .limit(PAGE_SIZE + 1)
        )
        if before is not None:
            query = query.where(DeadLetter.id < before)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            rows = (await session.execute(query)).all()
        more = len(rows) > PAGE_SIZE
        shown: list[dict[str, Any]] = [
            {"row": row, "destination": name, "payload": json.dumps(row.payload, indent=2, sort_keys=True)}
            for row, name in rows[:PAGE_SIZE]
        ]
        context = {
            "brand": brand,
            "me": portal_user,
            "letters": shown,
            "status": status,
            "next_before": shown[-1]["row"].id if more else None,
            "done": done,
            "skipped": skipped,
        }
        return Template("dead_letters.html", context=context)

    @post("/act", operation_id="PortalActOnDeadLetters", status_code=303)
    async def act(
        self,
        request: Request[Any, Any, Any],
        portal_user: PortalUser,
        data: Annotated[ActionForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Replay or discard the ticked dead letters; ones no longer open are skipped and counted."""
        tenant_id = _tenant_of(portal_user)
        if not portal_user.role.can_write:
            raise PermissionDeniedException("Your role can look at dead letters but not act on them.")
        if data.action not in ("replay", "discard"):
            raise PermissionDeniedException("Choose replay or discard.")
        raw = [data.ids] if isinstance(data.ids, str) else data.ids
        ids = sorted({int(i) for i in raw if i.isdigit() and 0 < int(i) < 2**63})
        services = services_of(request)
        actor = request_actor(request, "user", portal_user.user.id)
        now = services.clock.now()
        async with services.db.transaction(portal_user.db_scope()) as session:
            rows, missing = await open_dead_letters(session, tenant_id, ids)
            for row in rows:
                if data.action == "replay":
                    await replay_dead_letter(session, row, actor, now, correlation_id_of(request.scope))
                else:
                    await discard_dead_letter(session, row, actor, now)
        skipped = len(missing) + (len(raw) - len(ids))
        return Redirect(f"/dead-letters?done={len(rows)}&skipped={skipped}", status_code=303)
