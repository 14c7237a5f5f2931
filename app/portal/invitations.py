"""Inviting someone to a retailer with a role: the account is made if it is new (no password: the mail
carries a link to choose one), the membership is granted, both audited as the inviter. Used by the
partner's onboarding wizard and by a retailer admin's users page."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from sqlalchemy import select

from app.database.scope import DbScope
from app.http.actor import request_actor
from app.http.state import services_of
from app.portal.context import PortalUser, portal_base_url
from app.portal.password_reset import send_invitation
from tenants.branding import Brand
from tenants.models import Membership, Tenant
from tenants.roles import Role
from tenants.service import create_user, find_user_by_email, grant_role

INVITABLE = (Role.RETAILER_ADMIN, Role.RETAILER_VIEWER)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def read_invitation(form: Any) -> tuple[str, str, dict[str, str]]:
    """(email, role, field errors) from a submitted invitation form."""
    email, role = str(form.get("email", "")).strip().lower(), str(form.get("role", ""))
    errors: dict[str, str] = {}
    if not _EMAIL.match(email):
        errors["email"] = "Give an e-mail address."
    if role not in {r.value for r in INVITABLE}:
        errors["role"] = "Pick retailer admin or retailer viewer."
    return email, role, errors


async def invite_to_tenant(
    request: Request[Any, Any, Any],
    brand: Brand,
    portal_user: PortalUser,
    tenant: Tenant,
    email: str,
    role: str,
) -> dict[str, str]:
    """Invite ``email`` to ``tenant`` as ``role``; field errors if that person already has access."""
    services = services_of(request)
    actor = request_actor(request, "user", portal_user.user.id)
    # users are platform-wide rows: looked up and made in the system scope (the caller has checked
    # that the inviter may act for ``tenant``), audited as the inviter
    async with services.db.transaction(DbScope.system()) as session:
        user = await find_user_by_email(session, email)
        if user is not None and await session.scalar(
            select(Membership.id).where(Membership.user_id == user.id, Membership.tenant_id == tenant.id)
        ):
            return {"email": f"{email} already has access to {tenant.name}."}
        if user is None:
            user = await create_user(session, actor, email=email, password=None)
            await send_invitation(
                session,
                user=user,
                inviter=actor,
                place=tenant.name,
                brand=brand,
                url_base=portal_base_url(request, brand),
                now=services.clock.now(),
            )
        await grant_role(session, actor, user_id=user.id, role=Role(role), tenant_id=tenant.id)
    return {}
