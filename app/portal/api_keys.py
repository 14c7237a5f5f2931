"""Portal page for a retailer's API keys: list, create (secret shown once), revoke."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy import select

from app.http.actor import request_actor
from app.http.pagination import newest_first
from app.http.state import services_of
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from tenants.api_keys import READ_SCOPES, SCOPES, ApiKey, create_api_key, revoke_api_key
from tenants.audit import record_audit
from tenants.branding import Brand

PAGE_SIZE = 50


class NewKeyForm(msgspec.Struct):
    name: str = ""
    scopes: list[str] | str = msgspec.field(default_factory=list)  # one checkbox arrives as a str


def _tenant_of(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "API keys")


def _must_manage(portal_user: PortalUser) -> None:
    if not portal_user.role.can_manage_users:
        raise PermissionDeniedException("Your role can look at API keys but not change them.")


class PortalApiKeyController(Controller):
    path = "/keys"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _page(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, **extra: Any
    ) -> dict[str, Any]:
        tenant_id = _tenant_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            page = await newest_first(
                session,
                select(ApiKey).where(ApiKey.tenant_id == tenant_id),
                (ApiKey.created_at, ApiKey.id),
                PAGE_SIZE,
                request.query_params.get("cursor"),
                lambda key: key,
            )
        return {
            "brand": brand,
            "me": portal_user,
            "keys": page.items,
            "next_cursor": page.next_cursor,
            "scopes": SCOPES,
            "default_scopes": READ_SCOPES,
            "errors": {},
            "created_secret": None,
            **extra,
        }

    @get("/", operation_id="PortalListApiKeys")
    async def list_keys(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Template:
        """The retailer's keys."""
        return Template("api_keys.html", context=await self._page(request, brand, portal_user))

    @post("/", operation_id="PortalCreateApiKey", status_code=201)
    async def create_key(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        data: Annotated[NewKeyForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template:
        """Create a key and show its secret once."""
        _must_manage(portal_user)
        tenant_id = _tenant_of(portal_user)
        errors: dict[str, str] = {}
        name = data.name.strip()
        scopes = [data.scopes] if isinstance(data.scopes, str) else list(data.scopes)
        if not name or len(name) > 100:
            errors["name"] = "Give the key a name of 1 to 100 characters."
        unknown = sorted(set(scopes) - SCOPES.keys())
        if not scopes or unknown:
            errors["scopes"] = "Pick at least one of the listed scopes."
        if errors:
            context = await self._page(request, brand, portal_user, errors=errors)
            return Template("api_keys.html", context=context, status_code=400)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            row, secret = await create_api_key(
                session,
                tenant_id=tenant_id,
                name=name,
                scopes=scopes,
                created_by=portal_user.user.id,
            )
            await record_audit(
                session,
                request_actor(request, "user", portal_user.user.id),
                action="api_key.created",
                target_type="api_key",
                target_id=row.id,
                tenant_id=tenant_id,
                changes={"after": {"name": row.name, "prefix": row.prefix, "scopes": row.scopes}},
            )
        context = await self._page(request, brand, portal_user, created_secret=secret)
        return Template("api_keys.html", context=context, status_code=201)

    @post("/{key_id:uuid}/revoke", operation_id="PortalRevokeApiKey", status_code=303)
    async def revoke_key(
        self, request: Request[Any, Any, Any], portal_user: PortalUser, key_id: uuid.UUID
    ) -> Redirect:
        """Revoke a key at once."""
        _must_manage(portal_user)
        tenant_id = _tenant_of(portal_user)
        services = services_of(request)
        async with services.db.transaction(portal_user.db_scope()) as session:
            row = await revoke_api_key(session, tenant_id, key_id, services.clock.now())
            if row is None:
                raise NotFoundException("No such API key.")
            await record_audit(
                session,
                request_actor(request, "user", portal_user.user.id),
                action="api_key.revoked",
                target_type="api_key",
                target_id=row.id,
                tenant_id=tenant_id,
            )
        return Redirect("/keys", status_code=303)
