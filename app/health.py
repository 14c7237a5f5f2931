"""Liveness (``/healthz``) and readiness (``/readyz``: PostgreSQL and Redis reachable)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from app.http.problems import PROBLEM_JSON, problem_body
from app.http.state import services_of

CHECK_TIMEOUT_SECONDS = 2.0


@get("/healthz", operation_id="Liveness", tags=["health"], sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


async def _check_postgres(request: Request[Any, Any, Any]) -> None:
    async with services_of(request).db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check_redis(request: Request[Any, Any, Any]) -> None:
    await services_of(request).redis.ping()


@get("/readyz", operation_id="Readiness", tags=["health"])
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Both PostgreSQL and Redis answer; otherwise 503 naming the one that does not."""
    checks: dict[str, str] = {}
    for name, check in (("postgresql", _check_postgres), ("redis", _check_redis)):
        try:
            await asyncio.wait_for(check(request), CHECK_TIMEOUT_SECONDS)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            checks[name] = f"down: {type(exc).__name__}"
    down = [name for name, state in checks.items() if state != "ok"]
    if not down:
        return Response({"status": "ready", "checks": checks})
    body = problem_body(
        503,
        f"Not ready: {', '.join(down)} unreachable.",
        "/readyz",
        type_slug="not-ready",
        checks=checks,
    )
    return Response(body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": "5"})
