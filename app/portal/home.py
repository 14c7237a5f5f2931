"""The portal's landing page and the membership switcher."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from app.portal.context import PortalUser, provide_brand, provide_portal_user
from tenants.branding import Brand


class SwitchForm(msgspec.Struct):
    reach: int = 0


class HomeController(Controller):
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand), "portal_user": Provide(provide_portal_user)}

    @get("/", operation_id="PortalHome")
    async def home(self, brand: Brand, portal_user: PortalUser) -> Template:
        """Who you are and what you can act on."""
        return Template("home.html", context={"brand": brand, "me": portal_user})

    @post("/context", operation_id="PortalSwitchContext", status_code=303)
    async def switch(
        self,
        request: Request[Any, Any, Any],
        portal_user: PortalUser,
        data: Annotated[SwitchForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        """Act in another of your memberships."""
        if 0 <= data.reach < len(portal_user.reaches):
            request.set_session({**request.session, "reach": data.reach})
        return Redirect("/", status_code=303)
