"""A retailer's people in the portal: who has access with which role; admins invite more by e-mail."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template
from sqlalchemy import select

from app.http.state import services_of
from app.portal.context import PortalUser, provide_brand, provide_portal_user, retailer_of
from app.portal.invitations import INVITABLE, invite_to_tenant, read_invitation
from tenants.branding import Brand
from tenants.models import Membership, Tenant, User

PAGE_SIZE = 50


def _tenant_of(portal_user: PortalUser) -> uuid.UUID:
    return retailer_of(portal_user, "Users")


class PortalUsersController(Controller):
    path = "/users"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _page(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        portal_user: PortalUser,
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        tenant_id = _tenant_of(portal_user)
        after = request.query_params.get("after")
        query = (
            select(User.email, Membership.role, User.password_hash.is_not(None))
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id)
            .order_by(User.email)
            .limit(PAGE_SIZE + 1)
        )
        if after:
            query = query.where(User.email > after)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            members = (await session.execute(query)).all()
        context = {
            "brand": brand,
            "me": portal_user,
            "members": members[:PAGE_SIZE],
            "next_after": members[PAGE_SIZE - 1][0] if len(members) > PAGE_SIZE else None,
            "roles": INVITABLE,
            "errors": {},
            "invited": request.query_params.get("invited"),
            **extra,
        }
        return Template("users.html", context=context, status_code=status_code)

    @get("/", operation_id="PortalUsers")
    async def page(self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser) -> Template:
        return await self._page(request, brand, portal_user)

    @post("/", operation_id="PortalInviteUser", status_code=303)
    async def invite(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Redirect | Template:
        """Invite someone with a role; they get a mail with a link to choose a password."""
        tenant_id = _tenant_of(portal_user)
        if not portal_user.role.can_manage_users:
            raise PermissionDeniedException("Your role cannot invite users.")
        email, role, errors = read_invitation(await request.form())
        if not errors:
            async with services_of(request).db.transaction(portal_user.db_scope()) as session:
                tenant = await session.get(Tenant, tenant_id)
            assert tenant is not None
            errors = await invite_to_tenant(request, brand, portal_user, tenant, email, role)
        if errors:
            return await self._page(request, brand, portal_user, 422, errors=errors)
        return Redirect(f"/users?invited={email}", status_code=303)
