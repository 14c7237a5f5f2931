"""Portal sign-in, sign-out and password reset pages."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import structlog
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from app.database.scope import DbScope
from app.http.actor import request_actor
from app.http.correlation import correlation_id_of
from app.http.sessions import renew_session
from app.http.state import services_of
from app.portal.context import portal_base_url, provide_brand, usable_here
from app.portal.password_reset import complete_reset, find_valid_token, request_reset
from app.portal.throttle import LoginThrottle
from tenants.audit import record_audit
from tenants.branding import Brand
from tenants.passwords import password_problem
from tenants.service import authenticate, reaches_of

log = structlog.get_logger(__name__)

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


class LoginForm(msgspec.Struct):
    email: str = ""
    password: str = ""


class ResetRequestForm(msgspec.Struct):
    email: str = ""


class NewPasswordForm(msgspec.Struct):
    password: str = ""
    password_again: str = ""


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    tags = ["portal"]
    include_in_schema = False
    dependencies = {"brand": Provide(provide_brand)}

    @get("/login", operation_id="PortalLoginPage")
    async def login_page(self, brand: Brand, reset: bool = False) -> Template:
        """The sign-in form."""
        notice = "Your password was changed. Sign in with the new one." if reset else None
        return Template(
            "auth/login.html", context={"brand": brand, "notice": notice, "errors": {}, "email": ""}
        )

    @post("/login", operation_id="PortalLogin", status_code=303)
    async def login(
        self, request: Request[Any, Any, Any], brand: Brand, data: Annotated[LoginForm, FORM]
    ) -> Template | Redirect:
        """Check the credentials (throttled per account and per address) and start a session."""
        services = services_of(request)
        throttle = LoginThrottle(services.redis)
        ip = _client_ip(request)
        email = data.email.strip().lower()
        context: dict[str, Any] = {"brand": brand, "email": email, "notice": None}
        wait = await throttle.retry_after(email, ip)
        if wait is not None:
            context["errors"] = {"form": f"Too many attempts. Try again in {(wait + 59) // 60} minutes."}
            return Template(
                "auth/login.html",
                context=context,
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if not email or not data.password:
            context["errors"] = {
                key: "Required."
                for key, value in (("email", email), ("password", data.password))
                if not value
            }
            return Template("auth/login.html", context=context, status_code=400)
        async with services.db.transaction(DbScope.system()) as session:
            user = await authenticate(session, email, data.password, services.clock.now())
            reaches = usable_here(await reaches_of(session, user.id), brand) if user else []
            if user is not None and reaches:
                await record_audit(
                    session,
                    request_actor(request, "user", user.id),
                    action="user.signed_in",
                    target_type="user",
                    target_id=user.id,
                    partner_id=reaches[0].partner_id,
                )
        if user is None or not reaches:
            await throttle.record_failure(email, ip)
            log.info("portal.login_failed", email_domain=email.rpartition("@")[2], ip=ip)
            context["errors"] = {"form": "The e-mail or password is not right."}
            return Template("auth/login.html", context=context, status_code=401)
        await throttle.record_success(email)
        renew_session(request)
        request.set_session({"user_id": str(user.id), "reach": 0})
        return Redirect("/", status_code=303)

    @post("/logout", operation_id="PortalLogout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        """End the session."""
        request.clear_session()
        return Redirect("/login", status_code=303)

    @get("/password-reset", operation_id="PortalPasswordResetPage")
    async def reset_page(self, brand: Brand) -> Template:
        """Ask for a reset link."""
        return Template("auth/reset_request.html", context={"brand": brand, "sent": False, "errors": {}})

    @post("/password-reset", operation_id="PortalPasswordResetRequest", status_code=202)
    async def reset_request(
        self, request: Request[Any, Any, Any], brand: Brand, data: Annotated[ResetRequestForm, FORM]
    ) -> Template:
        """Queue a reset mail; the answer is the same whether or not the account exists."""
        email = data.email.strip().lower()
        if "@" not in email:
            return Template(
                "auth/reset_request.html",
                context={
                    "brand": brand,
                    "sent": False,
                    "errors": {"email": "Enter an e-mail address."},
                },
                status_code=400,
            )
        services = services_of(request)
        base = portal_base_url(request, brand)
        async with services.db.transaction(DbScope.system()) as session:
            await request_reset(
                session,
                email=email,
                brand=brand,
                reset_url_base=base,
                now=services.clock.now(),
                correlation_id=correlation_id_of(request.scope),
            )
        return Template(
            "auth/reset_request.html",
            context={"brand": brand, "sent": True, "errors": {}},
            status_code=202,
        )

    @get("/password-reset/{token:str}", operation_id="PortalNewPasswordPage")
    async def new_password_page(self, request: Request[Any, Any, Any], brand: Brand, token: str) -> Template:
        """Choose a new password (if the link is still valid)."""
        services = services_of(request)
        async with services.db.transaction(DbScope.system()) as session:
            valid = await find_valid_token(session, token, services.clock.now()) is not None
        return Template(
            "auth/reset_new.html",
            context={"brand": brand, "valid": valid, "errors": {}, "token": token},
            status_code=200 if valid else 404,
        )

    @post("/password-reset/{token:str}", operation_id="PortalNewPassword", status_code=303)
    async def new_password(
        self,
        request: Request[Any, Any, Any],
        brand: Brand,
        token: str,
        data: Annotated[NewPasswordForm, FORM],
    ) -> Template | Redirect:
        """Set the new password and spend the link."""
        errors = {}
        problem = password_problem(data.password)
        if problem:
            errors["password"] = f"The password {problem}."
        elif data.password != data.password_again:
            errors["password_again"] = "The two passwords differ."  # noqa: S105 - a message
        context = {"brand": brand, "valid": True, "errors": errors, "token": token}
        if errors:
            return Template("auth/reset_new.html", context=context, status_code=400)
        services = services_of(request)
        async with services.db.transaction(DbScope.system()) as session:
            user = await complete_reset(
                session,
                token=token,
                new_password=data.password,
                now=services.clock.now(),
                correlation_id=correlation_id_of(request.scope),
            )
        if user is None:
            context["valid"] = False
            return Template("auth/reset_new.html", context=context, status_code=404)
        return Redirect("/login?reset=true", status_code=303)
