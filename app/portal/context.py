"""Who is signed in to the portal, at which partner's portal, acting in which membership."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException, NotFoundException

from app.database.scope import DbScope
from app.http.correlation import bind_request
from app.http.state import services_of
from tenants.branding import PLATFORM_BRAND, Brand, resolve_partner
from tenants.models import User
from tenants.roles import Role
from tenants.service import Reach, reaches_of


class LoginRequired(HTTPException):
    """Raised by portal pages for anonymous visitors; answered with a redirect to the login page."""

    status_code = 401


@dataclass(frozen=True)
class PortalUser:
    """A signed-in user, the memberships usable at this portal, and the one in use."""

    user: User
    reaches: list[Reach]
    current: Reach

    @property
    def role(self) -> Role:
        return self.current.role

    def db_scope(self) -> DbScope:
        """The database scope of the current membership (viewers get a read-only scope)."""
        reach = self.current
        if reach.role.level == "platform":
            return DbScope("platform", user_id=self.user.id)
        if reach.role.level == "partner":
            return DbScope("partner", partner_id=reach.partner_id, user_id=self.user.id)
        assert reach.tenant_id is not None
        return DbScope.for_tenant(
            reach.tenant_id, reach.partner_id, self.user.id, read_only=not reach.role.can_write
        )


def usable_here(reaches: list[Reach], brand: Brand) -> list[Reach]:
    """Memberships that belong to the portal's partner; the platform's own portal takes them all."""
    if brand.partner_id is None:
        return reaches
    partner_id = uuid.UUID(brand.partner_id)
    return [r for r in reaches if r.role.level == "platform" or r.partner_id == partner_id]


async def provide_brand(request: Request[Any, Any, Any]) -> Brand:
    """The partner brand for the request host (``?partner=`` overrides it in development)."""
    cached = request.scope.get("state", {}).get("brand")
    if cached is not None:
        brand: Brand = cached
        return brand
    services = services_of(request)
    override = request.query_params.get("partner") if services.settings.environment == "development" else None
    async with services.db.transaction(DbScope.anonymous()) as session:
        partner = await resolve_partner(
            session, request.headers.get("host", ""), services.settings.base_domain, override
        )
        brand = Brand.of(partner) if partner else PLATFORM_BRAND
    request.scope.setdefault("state", {})["brand"] = brand
    return brand


async def provide_portal_user(request: Request[Any, Any, Any]) -> PortalUser:
    """The signed-in user, or a redirect to the login page."""
    session_data = request.session if "session" in request.scope else {}
    user_id = session_data.get("user_id") if session_data else None
    if not user_id:
        raise LoginRequired(detail="sign in first")
    brand = await provide_brand(request)
    services = services_of(request)
    # Resolving who is signed in is Shelfsync's own bookkeeping (system scope); what the user then
    # does runs in the scope of the chosen membership (``PortalUser.db_scope``).
    async with services.db.transaction(DbScope.system()) as session:
        user = await session.get(User, uuid.UUID(user_id))
        reaches = usable_here(await reaches_of(session, uuid.UUID(user_id)), brand) if user else []
    if user is None or not user.is_active or not reaches:
        request.clear_session()
        raise LoginRequired(detail="sign in first")
    index = session_data.get("reach", 0)
    current = reaches[index] if isinstance(index, int) and 0 <= index < len(reaches) else reaches[0]
    # the request's log lines (and span) name who acted, for whom: as an API key's requests do
    bind_request(request.scope, user_id=user.id, tenant_id=current.tenant_id, partner_id=current.partner_id)
    return PortalUser(user, reaches, current)


def portal_base_url(request: Request[Any, Any, Any], brand: Brand) -> str:
    """The brand's portal address for links in mails: built from the brand's own host name, never from
    the request's Host header, which a client controls (a forged Host would mail a link to another site)."""
    port = request.url.port
    hostname = brand.hostname(services_of(request).settings.base_domain)
    return f"{request.url.scheme}://{hostname}{f':{port}' if port and port not in (80, 443) else ''}"


def retailer_of(portal_user: PortalUser, what: str) -> uuid.UUID:
    """The retailer the user acts for; a 404 saying ``what`` belongs to a retailer when none."""
    if portal_user.current.tenant_id is None:
        raise NotFoundException(f"{what} belong to a retailer; act for one first.")
    return portal_user.current.tenant_id


def partner_of(portal_user: PortalUser, what: str) -> uuid.UUID:
    """The partner the user acts for (as a partner, not one of its retailers); a 404 saying ``what``
    belongs to a partner when none."""
    reach = portal_user.current
    if reach.partner_id is None or reach.tenant_id is not None or reach.role.level != "partner":
        raise NotFoundException(f"{what} belongs to a partner; act for one first.")
    return reach.partner_id
