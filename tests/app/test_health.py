"""Liveness and readiness."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar.testing import AsyncTestClient

from app.factory import create_app
from app.settings import Settings
from tests.redis_process import free_port


async def test_healthz(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_both_are_up(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgresql": "ok", "redis": "ok"}


async def test_readyz_names_redis_when_it_is_down(settings: Settings) -> None:
    broken = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(create_app(broken), base_url="https://localhost") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["checks"]["postgresql"] == "ok"
    assert body["checks"]["redis"].startswith("down")
    assert "redis" in body["detail"]


async def test_readyz_names_postgresql_when_it_is_down(settings: Settings) -> None:
    broken = replace(settings, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    async with AsyncTestClient(create_app(broken), base_url="https://localhost") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["postgresql"].startswith("down")
    assert "postgresql" in body["detail"]
