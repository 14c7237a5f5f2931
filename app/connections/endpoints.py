"""``/api/v1/connections`` and ``/api/v1/connector-templates``: connections and usable templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.connections.models import Connection
from app.connections.service import (
    create_connection,
    delete_connection,
    get_connection,
    network_policy,
    run_connection_check,
    tenant_folder,
    update_connection,
)
from app.connections.templates import available_templates
from app.connections.tokens import ConnectionTokenStore
from app.crypto import SecretBox
from app.database.scope import DbScope
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.pagination import DEFAULT_LIMIT, Page, newest_first
from app.http.problems import Problem
from app.http.state import services_of
from app.plans.quotas import QuotaExceededError, quota_problem
from connectors.registry import UnknownTemplateError
from connectors.sdk.errors import ConfigError
from tenants.api_keys import ApiPrincipal
from tenants.audit import record_audit

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ConnectionView(msgspec.Struct):
    """A connection as the API shows it: public config, and only the names of the secrets that are set."""

    id: uuid.UUID
    name: str
    template: str
    config: dict[str, Any]
    secrets_set: list[str]
    rate_limit: dict[str, Any] | None
    batch_size: int | None
    status: str
    status_reason: str | None
    last_checked_at: datetime | None
    last_check_ok: bool | None
    last_check_detail: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Connection) -> ConnectionView:
        return cls(
            row.id,
            row.name,
            row.template_key,
            row.config,
            row.secret_names,
            row.rate_limit,
            row.batch_size,
            row.status,
            row.status_reason,
            row.last_checked_at,
            row.last_check_ok,
            row.last_check_detail,
            row.created_at,
            row.updated_at,
        )


class RateLimitInput(msgspec.Struct, forbid_unknown_fields=True):
    rate: Annotated[float, msgspec.Meta(gt=0, le=10_000)]
    """Requests per second on average."""
    burst: Annotated[int, msgspec.Meta(ge=1, le=100_000)]


BatchSize = Annotated[int, msgspec.Meta(ge=1, le=10_000)]


class CreateConnection(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    template: Annotated[str, msgspec.Meta(min_length=1, max_length=63)]
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    """Config and secrets together; fields the template marks ``writeOnly`` are sealed and never returned."""
    rate_limit: RateLimitInput | None = None
    """The rate agreed with the remote system, shared by all workers; default: the template's."""
    batch_size: BatchSize | None = None
    """Records per write, at most the template's own; default: the template's."""


class UpdateConnection(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    rate_limit: RateLimitInput | None = None
    batch_size: BatchSize | None = None
    config: dict[str, Any] | None = None
    """Keys given replace the stored ones (``null`` removes one); secrets not given are kept."""


class ConnectionCheckView(msgspec.Struct):
    ok: bool
    detail: str
    latency_ms: float | None


def _config_problem(error: ConfigError) -> Problem:
    return Problem(
        422,
        error.message,
        type_slug="invalid-config",
        errors=[{"path": f"config.{path}", "reason": reason} for path, reason in error.problems]
        or [{"path": "config", "reason": error.message}],
    )


def _box(request: Request[Any, Any, Any]) -> SecretBox:
    return SecretBox.from_settings(services_of(request).settings)


class ConnectionController(Controller):
    path = "/connections"
    tags = ["connections"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListConnections", guards=[requires_scope("connections:read")])
    async def list_connections(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[ConnectionView]:
        """The tenant's connections, newest first."""
        query = select(Connection).where(Connection.tenant_id == principal.tenant_id)
        return await newest_first(
            session, query, (Connection.created_at, Connection.id), limit, cursor, ConnectionView.of
        )

    @post("/", operation_id="CreateConnection", guards=[requires_scope("connections:write")])
    async def create(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        data: CreateConnection,
    ) -> ConnectionView:
        """Create a connection from a built-in or partner template; config is validated against its schema."""
        exists = await session.scalar(
            select(Connection.id).where(
                Connection.tenant_id == principal.tenant_id, Connection.name == data.name
            )
        )
        if exists:
            raise Problem(409, f"A connection named {data.name!r} exists.", type_slug="duplicate-name")
        try:
            row = await create_connection(
                session,
                _box(request),
                folder=tenant_folder(services_of(request).settings, principal.tenant_id),
                network=network_policy(services_of(request).settings),
                tenant_id=principal.tenant_id,
                partner_id=principal.partner_id,
                name=data.name,
                template_key=data.template,
                values=data.config,
                now=services_of(request).clock.now(),
            )
            row.rate_limit = msgspec.to_builtins(data.rate_limit) if data.rate_limit else None
            row.batch_size = data.batch_size
        except UnknownTemplateError:
            raise Problem(
                422,
                f"No template {data.template!r}.",
                type_slug="unknown-template",
                errors=[{"path": "template", "reason": f"no template {data.template!r}"}],
            ) from None
        except ConfigError as error:
            raise _config_problem(error) from None
        except QuotaExceededError as error:
            raise quota_problem(error) from None
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="connection.created",
            target_type="connection",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={
                "after": {
                    "rate_limit": row.rate_limit,
                    "batch_size": row.batch_size,
                    "name": row.name,
                    "template": row.template_key,
                    "config": row.config,
                    "secrets": row.secret_names,
                }
            },
        )
        return ConnectionView.of(row)

    @get("/{connection_id:uuid}", operation_id="GetConnection", guards=[requires_scope("connections:read")])
    async def read(
        self, session: AsyncSession, principal: ApiPrincipal, connection_id: uuid.UUID
    ) -> ConnectionView:
        """One connection (secrets are never returned, only which ones are set)."""
        row = await get_connection(session, principal.tenant_id, connection_id)
        if row is None:
            raise Problem(404, "No such connection.")
        return ConnectionView.of(row)

    @patch(
        "/{connection_id:uuid}", operation_id="UpdateConnection", guards=[requires_scope("connections:write")]
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        connection_id: uuid.UUID,
        data: UpdateConnection,
    ) -> ConnectionView:
        """Rename, or change config and secrets; locked fields of a partner template cannot change."""
        row = await get_connection(session, principal.tenant_id, connection_id)
        if row is None:
            raise Problem(404, "No such connection.")
        try:
            changes = await update_connection(
                session,
                _box(request),
                row,
                folder=tenant_folder(services_of(request).settings, principal.tenant_id),
                network=network_policy(services_of(request).settings),
                partner_id=principal.partner_id,
                name=data.name,
                values=data.config,
                now=services_of(request).clock.now(),
            )
            for field, value in (
                ("rate_limit", msgspec.to_builtins(data.rate_limit) if data.rate_limit else None),
                ("batch_size", data.batch_size),
            ):
                if value is not None and value != getattr(row, field):
                    changes[field] = {"before": getattr(row, field), "after": value}
                    setattr(row, field, value)
        except ConfigError as error:
            raise _config_problem(error) from None
        except IntegrityError:
            raise Problem(
                409, f"A connection named {data.name!r} exists.", type_slug="duplicate-name"
            ) from None
        if changes:
            await record_audit(
                session,
                request_actor(request, "api_key", principal.key_id),
                action="connection.updated",
                target_type="connection",
                target_id=row.id,
                tenant_id=principal.tenant_id,
                changes=changes,
            )
        return ConnectionView.of(row)

    @delete(
        "/{connection_id:uuid}",
        operation_id="DeleteConnection",
        guards=[requires_scope("connections:write")],
        status_code=204,
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        connection_id: uuid.UUID,
    ) -> None:
        """Delete a connection and its sealed secrets."""
        row = await get_connection(session, principal.tenant_id, connection_id)
        if row is None:
            raise Problem(404, "No such connection.")
        await delete_connection(session, row, services_of(request).clock.now())
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="connection.deleted",
            target_type="connection",
            target_id=connection_id,
            tenant_id=principal.tenant_id,
            changes={"before": {"name": row.name, "template": row.template_key}},
        )

    @post(
        "/{connection_id:uuid}/test",
        operation_id="TestConnection",
        guards=[requires_scope("connections:write")],
        status_code=200,
    )
    async def test(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        connection_id: uuid.UUID,
    ) -> ConnectionCheckView:
        """Run the template's real connection check against the remote system and keep the outcome."""
        row = await get_connection(session, principal.tenant_id, connection_id)
        if row is None:
            raise Problem(404, "No such connection.")
        services = services_of(request)
        check = await run_connection_check(
            session,
            services.settings,
            _box(request),
            row,
            partner_id=principal.partner_id,
            now=services.clock.now(),
            token_store=ConnectionTokenStore(
                services.db,
                services.redis,
                _box(request),
                DbScope.for_tenant(principal.tenant_id, principal.partner_id),
            ),
            correlation_id=correlation_id_of(request.scope),
        )
        return ConnectionCheckView(check.ok, check.detail, check.latency_ms)


class ConnectorTemplateController(Controller):
    path = "/connector-templates"
    tags = ["connections"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListConnectorTemplates", guards=[requires_scope("connections:read")])
    async def list_templates(self, session: AsyncSession, principal: ApiPrincipal) -> list[dict[str, Any]]:
        """Built-in templates and the partner's derived ones, with config schemas (secrets are writeOnly)."""
        return [choice.describe() for choice in await available_templates(session, principal.partner_id)]
