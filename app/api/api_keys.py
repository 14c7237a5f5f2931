"""``/api/v1/api-keys``: list, create (secret shown once) and revoke the tenant's keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.actor import request_actor
from app.http.pagination import DEFAULT_LIMIT, Page, newest_first
from app.http.problems import Problem
from app.http.state import services_of
from tenants.api_keys import SCOPES, ApiKey, ApiPrincipal, create_api_key, revoke_api_key
from tenants.audit import record_audit


class ApiKeyView(msgspec.Struct):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyView:
        return cls(
            row.id,
            row.name,
            row.prefix,
            row.scopes,
            row.created_at,
            row.last_used_at,
            row.revoked_at,
        )


class CreatedApiKey(msgspec.Struct):
    """A new key. ``secret`` is shown this once and cannot be read again."""

    key: ApiKeyView
    secret: str


class CreateApiKey(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=len(SCOPES))]


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["api keys"]
    dependencies = {
        "session": Provide(provide_tenant_session),
        "principal": Provide(provide_principal),
    }

    @get("/", operation_id="ListApiKeys", guards=[requires_scope("api_keys:read")])
    async def list_keys(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[ApiKeyView]:
        """The tenant's API keys, newest first (prefix, name, scopes, created, last used)."""
        query = select(ApiKey).where(ApiKey.tenant_id == principal.tenant_id)
        return await newest_first(
            session, query, (ApiKey.created_at, ApiKey.id), limit, cursor, ApiKeyView.of
        )

    @post("/", operation_id="CreateApiKey", guards=[requires_scope("api_keys:write")])
    async def create_key(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        data: CreateApiKey,
    ) -> CreatedApiKey:
        """Create a key for the tenant; the secret is in this response only."""
        unknown = sorted(set(data.scopes) - SCOPES.keys())
        if unknown:
            raise Problem(
                422,
                f"Unknown scopes: {', '.join(unknown)}.",
                type_slug="unknown-scope",
                errors=[{"path": "scopes", "reason": f"unknown scope {s!r}"} for s in unknown],
            )
        escalation = sorted(set(data.scopes) - principal.scopes)
        if escalation:
            # A key cannot mint a key stronger than itself.
            raise Problem(
                403,
                "A key can only grant scopes it holds itself.",
                type_slug="scope-escalation",
                errors=[{"path": "scopes", "reason": f"not held: {s}"} for s in escalation],
            )
        row, secret = await create_api_key(
            session, tenant_id=principal.tenant_id, name=data.name, scopes=data.scopes
        )
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="api_key.created",
            target_type="api_key",
            target_id=row.id,
            tenant_id=principal.tenant_id,
            changes={"after": {"name": row.name, "prefix": row.prefix, "scopes": row.scopes}},
        )
        return CreatedApiKey(ApiKeyView.of(row), secret)

    @delete(
        "/{key_id:uuid}",
        operation_id="RevokeApiKey",
        guards=[requires_scope("api_keys:write")],
        status_code=200,
    )
    async def revoke_key(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        principal: ApiPrincipal,
        key_id: uuid.UUID,
    ) -> ApiKeyView:
        """Revoke a key at once; later requests with it get 401."""
        row = await revoke_api_key(session, principal.tenant_id, key_id, services_of(request).clock.now())
        if row is None:
            raise Problem(404, "No such API key.")
        await record_audit(
            session,
            request_actor(request, "api_key", principal.key_id),
            action="api_key.revoked",
            target_type="api_key",
            target_id=row.id,
            tenant_id=principal.tenant_id,
        )
        return ApiKeyView.of(row)
