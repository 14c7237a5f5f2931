"""The partner's branding page: name, logo, favicon, colours, support e-mail and footer, with a live
preview (htmx re-renders it as the form changes) and a WCAG AA contrast check before anything is saved."""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect, Template

from app.http.actor import request_actor
from app.http.state import services_of
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user
from tenants.branding import Brand
from tenants.contrast import colour_problems
from tenants.models import Partner
from tenants.service import update_branding

_URL = re.compile(r"^https?://[^\s]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class BrandingForm(msgspec.Struct):
    name: str = ""
    logo_url: str = ""
    favicon_url: str = ""
    primary_color: str = ""
    accent_color: str = ""
    support_email: str = ""
    footer_text: str = ""


@dataclass(frozen=True)
class Proposal:
    """The form's values, trimmed, with empty optional fields as None."""

    name: str
    logo_url: str | None
    favicon_url: str | None
    primary_color: str
    accent_color: str
    support_email: str | None
    footer_text: str | None

    @classmethod
    def of(cls, form: BrandingForm) -> Proposal:
        def optional(value: str) -> str | None:
            return value.strip() or None

        return cls(
            form.name.strip(),
            optional(form.logo_url),
            optional(form.favicon_url),
            form.primary_color.strip().lower(),
            form.accent_color.strip().lower(),
            optional(form.support_email),
            optional(form.footer_text),
        )

    @classmethod
    def current(cls, partner: Partner) -> Proposal:
        return cls(
            partner.name,
            partner.logo_url,
            partner.favicon_url,
            partner.primary_color,
            partner.accent_color,
            partner.support_email,
            partner.footer_text,
        )

    def errors(self) -> dict[str, str]:
        """Field → what is wrong, next to the field on the page."""
        errors = colour_problems(self.primary_color, self.accent_color)
        if not 1 <= len(self.name) <= 200:
            errors["name"] = "Give a name of 1 to 200 characters."
        for field in ("logo_url", "favicon_url"):
            value = getattr(self, field)
            if value is not None and (len(value) > 2048 or not _URL.match(value)):
                errors[field] = "Give an http(s) address, or leave it empty."
        if self.support_email is not None and not _EMAIL.match(self.support_email):
            errors["support_email"] = "Give an e-mail address, or leave it empty."
        if self.footer_text is not None and len(self.footer_text) > 500:
            errors["footer_text"] = "Keep the footer to 500 characters."
        return errors

    def brand(self, brand: Brand) -> Brand:
        """``brand`` as it would look with these values (for the preview)."""
        return Brand(
            brand.partner_id,
            brand.slug,
            self.name or brand.name,
            self.logo_url,
            self.favicon_url,
            self.primary_color if "primary_color" not in self.errors() else brand.primary_color,
            self.accent_color if "accent_color" not in self.errors() else brand.accent_color,
            self.support_email,
            self.footer_text,
            brand.custom_domain,
        )


def _partner_of(portal_user: PortalUser) -> uuid.UUID:
    partner_id = partner_of(portal_user, "Branding")
    if not portal_user.role.can_brand:
        raise PermissionDeniedException("Your role cannot change the branding.")
    return partner_id


Form = Annotated[BrandingForm, Body(media_type=RequestEncodingType.URL_ENCODED)]


class PortalBrandingController(Controller):
    path = "/partner/branding"
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    async def _partner(self, request: Request[Any, Any, Any], portal_user: PortalUser) -> Partner:
        partner_id = _partner_of(portal_user)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            partner = await session.get(Partner, partner_id)
        if partner is None:
            raise NotFoundException("No such partner.")
        return partner

    @get("/", operation_id="PortalBranding")
    async def page(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, saved: bool = False
    ) -> Template:
        """The branding form, filled with the saved values, and their preview."""
        proposal = Proposal.current(await self._partner(request, portal_user))
        context = {
            "brand": brand,
            "me": portal_user,
            "form": asdict(proposal),
            "errors": {},
            "preview": proposal.brand(brand),
            "saved": saved,
        }
        return Template("branding.html", context=context)

    @post("/preview", operation_id="PortalBrandingPreview", status_code=200)
    async def preview(self, brand: Brand, portal_user: PortalUser, data: Form) -> Template:
        """The preview for the values typed so far, with any problem by its field (htmx partial)."""
        _partner_of(portal_user)
        proposal = Proposal.of(data)
        context = {"preview": proposal.brand(brand), "errors": proposal.errors()}
        return Template("partials/brand_preview.html", context=context)

    @post("/", operation_id="PortalSaveBranding", status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser, data: Form
    ) -> Redirect | Template:
        """Save the branding if every field is right (audited); else the form again with the reasons."""
        partner_id = _partner_of(portal_user)
        proposal = Proposal.of(data)
        errors = proposal.errors()
        if errors:
            context = {
                "brand": brand,
                "me": portal_user,
                "form": asdict(proposal),
                "errors": errors,
                "preview": proposal.brand(brand),
                "saved": False,
            }
            return Template("branding.html", context=context, status_code=422)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            partner = await session.get(Partner, partner_id, with_for_update=True)
            if partner is None:
                raise NotFoundException("No such partner.")
            await update_branding(
                session, request_actor(request, "user", portal_user.user.id), partner, asdict(proposal)
            )
        return Redirect("/partner/branding?saved=true", status_code=303)
