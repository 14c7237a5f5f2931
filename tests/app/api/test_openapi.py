"""The OpenAPI document describes every API v1 route with a unique operation id and its scope guard."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


async def test_every_api_route_is_documented_once(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths: dict[str, dict[str, Any]] = response.json()["paths"]
    for expected in (
        "/api/v1/connections",
        "/api/v1/connections/{connection_id}/test",
        "/api/v1/recipes/{recipe_id}/preview",
        "/api/v1/recipes/{recipe_id}/diff",
        "/api/v1/connector-templates",
    ):
        assert expected in paths, expected
    operations = [op for path, item in paths.items() if path.startswith("/api/v1") for op in item.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") or op.get("description") for op in operations)
