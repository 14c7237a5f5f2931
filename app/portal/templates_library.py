"""The partner's template library: the built-in connector templates and the partner's own, derived
from a built-in one with defaults filled in and fields locked (retailers see them in the wizard)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template
from sqlalchemy import select

from app.connections.models import PartnerTemplate
from app.connections.templates import available_templates, derive_template
from app.http.actor import request_actor
from app.http.state import services_of
from app.portal.context import PortalUser, partner_of, provide_brand, provide_portal_user
from connectors.registry import template_class, template_keys
from connectors.sdk.errors import ConfigError
from tenants.branding import Brand

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


def _partner_of(portal_user: PortalUser, *, writing: bool = False) -> uuid.UUID:
    partner_id = partner_of(portal_user, "The template library")
    if writing and not portal_user.role.can_brand:
        raise PermissionDeniedException("Only partner admins publish templates.")
    return partner_id


class PortalTemplateLibraryController(Controller):
    path = "/partner/templates"
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
        partner_id = _partner_of(portal_user)
        base_key = request.query_params.get("base") or extra.pop("base", None)
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            choices = await available_templates(session, partner_id)
        base = None
        if base_key:
            try:
                base = template_class(base_key)
            except Exception:
                base = None
        context = {
            "brand": brand,
            "me": portal_user,
            "templates": [c.describe() for c in choices],
            "builtin": sorted(template_keys()),
            "base": base,
            "properties": sorted((base.config_schema.get("properties") or {}).items()) if base else [],
            "errors": {},
            "form": {},
            **extra,
        }
        return Template("template_library.html", context=context, status_code=status_code)

    @get("/", operation_id="PortalTemplateLibrary")
    async def page(self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser) -> Template:
        """The templates retailers can pick, and a form to derive one (``?base=`` picks the built-in)."""
        return await self._page(request, brand, portal_user)

    @post("/", operation_id="PortalDeriveTemplate", status_code=303)
    async def derive(
        self, request: Request[Any, Any, Any], brand: Brand, portal_user: PortalUser
    ) -> Redirect | Template:
        """Publish a derived template: a key and name, defaults (JSON) and locked fields."""
        partner_id = _partner_of(portal_user, writing=True)
        form = await request.form()
        base_key, key = str(form.get("base_key", "")), str(form.get("key", "")).strip()
        name, raw_defaults = str(form.get("name", "")).strip(), str(form.get("defaults", "") or "{}")
        locked = [str(v) for v in form.getall("locked", [])]
        errors: dict[str, str] = {}
        if not _KEY.match(key):
            errors["key"] = "2 to 63 lower-case letters, digits, dashes or underscores."
        if not 1 <= len(name) <= 200:
            errors["name"] = "Give the template a name."
        try:
            defaults = json.loads(raw_defaults)
            if not isinstance(defaults, dict):
                raise ValueError("not an object")
        except ValueError:
            errors["defaults"] = 'Give the defaults as a JSON object, e.g. {"page_size": 50}.'
            defaults = {}
        async with services_of(request).db.transaction(portal_user.db_scope()) as session:
            if not errors and await session.scalar(
                select(PartnerTemplate.id).where(
                    PartnerTemplate.partner_id == partner_id, PartnerTemplate.key == key
                )
            ):
                errors["key"] = f"You already have a template {key!r}."
            if not errors:
                try:
                    await derive_template(
                        session,
                        request_actor(request, "user", portal_user.user.id),
                        partner_id=partner_id,
                        key=key,
                        name=name,
                        base_key=base_key,
                        defaults=defaults,
                        locked=locked,
                    )
                except ConfigError as error:
                    errors = {path.split(".")[0]: reason for path, reason in error.problems} or {
                        "key": error.message
                    }
        if errors:
            form_values = {"key": key, "name": name, "defaults": raw_defaults, "locked": locked}
            return await self._page(
                request, brand, portal_user, 422, errors=errors, form=form_values, base=base_key
            )
        return Redirect("/partner/templates", status_code=303)
