"""The Litestar application factory: wiring only, no domain rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from app.alerts.endpoints import AlertIncidentController, AlertRuleController
from app.api.api_keys import ApiKeyController
from app.api.rate_limit import RateLimitHeaders
from app.api.tenant import TenantController
from app.billing.endpoints import StripeHookController
from app.clock import Clock, SystemClock
from app.connections.endpoints import ConnectionController, ConnectorTemplateController
from app.database.engine import Database, app_engine
from app.delivery.endpoints import DeadLetterController
from app.flows.endpoints import FlowController, RunController
from app.flows.health_endpoints import HealthController
from app.health import healthz, readyz
from app.http.bodies import require_json_body
from app.http.correlation import CorrelationIdMiddleware
from app.http.metrics import metrics, metrics_config
from app.http.problems import declare_problem_responses, problem_response
from app.http.sessions import LazySessionConfig
from app.http.state import Services
from app.ingress.endpoints import EventController
from app.ingress.hooks import HookController
from app.inventory.endpoints import StockController
from app.metering.endpoints import UsageController
from app.portal.activity import PortalActivityController
from app.portal.alerts import PortalAlertController
from app.portal.api_keys import PortalApiKeyController
from app.portal.auth import AuthController
from app.portal.billing import PortalBillingController
from app.portal.branding import PortalBrandingController
from app.portal.context import LoginRequired
from app.portal.dead_letters import PortalDeadLetterController
from app.portal.health import PortalHealthController
from app.portal.home import HomeController
from app.portal.onboarding import PortalOnboardingController
from app.portal.partner_billing import PortalPartnerBillingController
from app.portal.plans import PortalPlansController
from app.portal.recipes import PortalRecipeController
from app.portal.templates_library import PortalTemplateLibraryController
from app.portal.tenant_data import PortalExportController, PortalRetailerDeletionController
from app.portal.users import PortalUsersController
from app.prices.endpoints import PriceController
from app.promotions.deployment_endpoints import PromotionDeploymentController
from app.promotions.endpoints import PromotionController
from app.recipes.endpoints import RecipeController
from app.redis import redis_client
from app.settings import Settings
from app.sla.endpoints import SlaReportController
from app.tracing import install_tracing
from tenants.branding import Brand

ROOT = Path(__file__).resolve().parents[1]
NEUTRAL_BRAND = Brand(None, None, "Portal", None, None, "#24324a", "#2f9e74", None, None)
API_PREFIXES = ("/api/", "/hooks/", "/readyz", "/healthz", "/schema")


def _handle_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """API paths get problem documents; portal pages get a redirect to sign in or a branded page."""
    if request.url.path.startswith(API_PREFIXES):
        return problem_response(request, exc)
    if isinstance(exc, LoginRequired):
        return Redirect("/login", status_code=303)
    problem = problem_response(request, exc)  # logs unexpected errors once
    status = problem.status_code or 500
    detail = exc.detail if isinstance(exc, HTTPException) and status < 500 else "Something went wrong."
    titles = {403: "Not allowed", 404: "Not found", 429: "Slow down"}
    brand = request.scope.get("state", {}).get("brand", NEUTRAL_BRAND)
    return Template(
        "error.html",
        context={
            "brand": brand,
            "title": titles.get(status, "Error"),
            "detail": detail,
            "me": None,
        },
        status_code=status,
        headers=dict(problem.headers),
    )


def create_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    """Build the web application for resolved settings (service URLs known)."""
    assert settings.database_url, "resolve services before create_app"
    assert settings.redis_url, "resolve services before create_app"
    redis = redis_client(settings.redis_url)
    install_tracing(settings, "shelfsync-api")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # a request waits a bounded time for PostgreSQL, and for a pooled connection: a 503, never a hang
        db = Database.from_engine(
            app_engine(
                settings,
                statement_timeout=settings.database_statement_timeout,
                pool_timeout=settings.database_statement_timeout,
            )
        )
        app.state.services = Services(settings=settings, db=db, redis=redis, clock=clock or SystemClock())
        try:
            yield
        finally:
            await db.dispose()
            await redis.aclose()

    session_config = LazySessionConfig(
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=8 * 3600,
        exclude=["/api/", "/hooks/", "/healthz", "/readyz", "/metrics", "/static/", "/schema"],
    )
    api_v1 = Router(
        path="/api/v1",
        route_handlers=[
            TenantController,
            ApiKeyController,
            ConnectionController,
            ConnectorTemplateController,
            RecipeController,
            DeadLetterController,
            StockController,
            PriceController,
            FlowController,
            RunController,
            HealthController,
            UsageController,
            SlaReportController,
            EventController,
            PromotionController,
            PromotionDeploymentController,
            AlertRuleController,
            AlertIncidentController,
        ],
        security=[{"apiKey": []}],
        before_request=require_json_body,
        middleware=[RateLimitHeaders],
    )
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            api_v1,
            HookController,
            StripeHookController,
            AuthController,
            HomeController,
            PortalApiKeyController,
            PortalBrandingController,
            PortalHealthController,
            PortalDeadLetterController,
            PortalAlertController,
            PortalRecipeController,
            PortalOnboardingController,
            PortalTemplateLibraryController,
            PortalActivityController,
            PortalUsersController,
            PortalBillingController,
            PortalPlansController,
            PortalPartnerBillingController,
            PortalExportController,
            PortalRetailerDeletionController,
            create_static_files_router(
                path="/static", directories=[ROOT / "static"], include_in_schema=False
            ),
        ],
        lifespan=[lifespan],
        middleware=[
            CorrelationIdMiddleware,
            metrics_config().middleware,
            session_config.middleware,
        ],
        stores={"sessions": RedisStore(redis, namespace="shelfsync:sessions")},
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_secure=settings.cookie_secure,
            cookie_httponly=False,
            exclude=["/api/", "/hooks/"],
        ),
        template_config=TemplateConfig(directory=ROOT / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="Shelfsync API",
            version="1.0.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="A tenant API key")
                }
            ),
        ),
        exception_handlers={Exception: _handle_error},
        logging_config=None,  # keep the JSON logging that app.logging configured
        request_max_body_size=settings.request_max_body_bytes,
        debug=False,
    )
    declare_problem_responses(app)
    return app
