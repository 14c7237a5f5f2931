"""``POST /hooks/{connection_id}``: signed webhooks from channels and ERPs.

The connection's template verifies the signature (HMAC, replay window) and extracts the records; each
flow fed by this connection maps them with its inbound recipe and ingests them like API events. No API
key: the signature is the credential. Unknown connections and bad signatures get the same 401, so the
endpoint does not reveal which connection ids exist.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from sqlalchemy import select

from app.connections.models import Connection
from app.connections.service import connector_context
from app.crypto import SecretBox
from app.database.scope import DbScope
from app.flows.models import Flow, Run
from app.flows.pull import ingest_into_run, mapped_items, source_recipe
from app.http.correlation import correlation_id_of
from app.http.problems import Problem
from app.http.state import services_of
from connectors.sdk.webhooks import WebhookSignatureError
from connectors.templates.webhook.template import WebhookPayloadError, WebhookTemplate
from tenants.models import Tenant

MAX_BODY_BYTES = 5 * 1024 * 1024


class HookOutcome(msgspec.Struct):
    received: int
    accepted: int
    duplicate: int
    rejected: int
    correlation_id: str


class HookController(Controller):
    path = "/hooks"
    tags = ["webhooks"]

    @post("/{connection_id:uuid}", operation_id="ReceiveWebhook", status_code=202, security=[])
    async def receive(
        self, request: Request[Any, Any, Any], connection_id: uuid.UUID
    ) -> Response[HookOutcome]:
        """Verify a signed delivery and ingest its records into every flow the connection feeds."""
        services = services_of(request)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise Problem(413, f"A webhook body may be at most {MAX_BODY_BYTES} bytes.")
        refused = Problem(401, "Signature missing or invalid.", type_slug="invalid-signature")
        async with services.db.transaction(DbScope.system()) as session:
            connection = await session.get(Connection, connection_id)
            tenant = await session.get(Tenant, connection.tenant_id) if connection else None
            flows = (
                (
                    await session.scalars(
                        select(Flow).where(
                            Flow.source_connection_id == connection_id, Flow.is_enabled.is_(True)
                        )
                    )
                ).all()
                if connection
                else []
            )
        # a suspended tenant, or one being deleted, accepts nothing new
        if (
            connection is None
            or tenant is None
            or tenant.status != "active"
            or connection.template_key != WebhookTemplate.key
        ):
            raise refused
        box = SecretBox.from_settings(services.settings)
        template = WebhookTemplate(connector_context(services.settings, box, connection))
        try:
            records = template.accept(dict(request.headers), body, services.clock.now().timestamp())
        except WebhookSignatureError as error:
            raise Problem(401, str(error), type_slug="invalid-signature") from None
        except WebhookPayloadError as error:
            raise Problem(422, error.message, errors=[{"path": "body", "reason": error.message}]) from None
        correlation_id = correlation_id_of(request.scope)
        totals = HookOutcome(len(records), 0, 0, 0, correlation_id)
        scope = DbScope.for_tenant(tenant.id, tenant.partner_id)
        for flow in flows:
            run = Run.begin(
                tenant_id=tenant.id,
                flow_id=flow.id,
                kind="event_batch",
                read_count=len(records),
                correlation_id=correlation_id,
                started_at=services.clock.now(),
            )
            items = mapped_items(await source_recipe(services.db, flow), records, run)
            async with services.db.transaction(scope) as session:
                outcome = await ingest_into_run(session, flow, items, run, services.clock.now())
                run.status = "succeeded" if not run.failed_count else "partial"
                run.finished_at = services.clock.now()
                session.add(run)
            totals.accepted += outcome.accepted
            totals.duplicate += outcome.duplicate
            totals.rejected += run.failed_count
        return Response(totals, status_code=202)
