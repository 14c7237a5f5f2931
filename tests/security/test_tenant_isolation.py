"""Cross-tenant access through every API route and every retailer portal page: another tenant's ids give
404 (or 403 in the portal) and never its data. Routes are read from the OpenAPI document and the route
table, so a new route is covered (or fails here until it is) without editing this file."""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from app.factory import create_app
from app.settings import Settings
from tests.app.api.calls import assert_problem, bearer
from tests.app.portal.forms import csrf_token, sign_in
from tests.factories import PASSWORD, World
from tests.security.estate import PROMOTION_START, Estate, seed_estate

PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
NOT_IDS = {"domain": "prices"}
"""Path parameters that name no tenant's resource: the same value is the caller's own."""
BODIES: dict[str, dict[str, Any]] = {
    "EditPromotion": {
        "promotion": {
            "code": "XMAS-20",
            "name": "Christmas 30 %",
            "rule": {"type": "percent_off", "percent": "30"},
            "window": {"starts_at": PROMOTION_START.isoformat(), "ends_at": PROMOTION_START.isoformat()},
            "eligibility": {"skus": ["TEA-1"]},
        }
    },
    "PreviewRecipe": {"samples": [{"sku": "TEA-1", "amount": "1.00", "currency": "EUR"}]},
    "TriggerRun": {"kind": "full"},
}
"""Valid bodies for the id routes whose body has required fields; every other route gets ``{}``."""
QUERIES = {"base": "1", "before": "1", "after": "1"}
"""Values for required query parameters, by name."""


def _fill(path: str, estate: Estate) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in NOT_IDS:
            return NOT_IDS[name]
        assert name in estate.ids, f"{path}: seed a resource for {{{name}}} in tests/security/estate.py"
        return estate.ids[name]

    return PATH_PARAMETER.sub(value, path)


def _never_shows(text: str, estate: Estate) -> None:
    for name, value in {**estate.ids, **estate.secrets}.items():
        if value.isdigit():  # a row number: only as a JSON id, other numbers are everywhere
            leaked = re.search(rf'"id":{value}[,}}]', text) is not None and name != "version"
        else:
            leaked = value in text
        assert not leaked, f"{name} of tenant {estate.tenant.slug} leaked"


async def _operations(client: AsyncTestClient[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    paths: dict[str, dict[str, Any]] = (await client.get("/schema/openapi.json")).json()["paths"]
    return [
        (method.upper(), path, operation)
        for path, item in paths.items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]


class TestApiResources:
    async def test_other_tenant(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        mine = await seed_estate(client, db, world.tenant_a1)
        stranger = await seed_estate(client, db, world.tenant_b1)
        tried = 0
        for method, path, operation in await _operations(client):
            ids = [name for name in PATH_PARAMETER.findall(path) if name not in NOT_IDS]
            if not ids:
                if method == "GET":  # lists and reports: only the caller's own rows
                    response = await client.get(path, headers=bearer(stranger.key))
                    assert response.status_code == 200, f"{path}: {response.text}"
                    _never_shows(response.text, mine)
                continue
            body = BODIES.get(operation["operationId"], {}) if "requestBody" in operation else None
            query = {
                parameter["name"]: QUERIES[parameter["name"]]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query" and parameter.get("required")
            }
            response = await client.request(
                method, _fill(path, mine), params=query, json=body, headers=bearer(stranger.key)
            )
            assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
            problem = assert_problem(response, 404, "not-found")
            problem.pop("instance")  # the path the caller sent, ids included
            _never_shows(json.dumps(problem), mine)
            tried += 1
        assert tried > 20  # the walk reached the id routes (29 when this was written)
        for method, path, _ in await _operations(client):
            if method == "GET" and "{" in path:  # the owner still finds every resource, unchanged
                response = await client.get(_fill(path, mine), params=QUERIES, headers=bearer(mine.key))
                assert response.status_code == 200, f"{path}: {response.text}"


PORTAL_NOT_IDS = {"period": "2026-11", "step": "connections", "token": "no-such-reset-token"}
"""Portal path parameters that name no tenant's resource."""


def _portal_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every portal route that takes a path parameter, as (method, path)."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if route.path.startswith(("/api/", "/hooks/", "/schema", "/static")) or "{" not in route.path:
            continue
        found += [(str(method), route.path) for method in sorted(route.methods) if method in ("GET", "POST")]
    return found


def _fill_portal(path: str, estate: Estate) -> str:
    ids = {**estate.ids, "tenant_id": str(estate.tenant.id), **PORTAL_NOT_IDS}
    return PATH_PARAMETER.sub(lambda match: ids[match.group(1)], path)


class TestPortalPages:
    async def test_other_tenant(
        self,
        app: Litestar,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        mine = await seed_estate(client, db, world.tenant_a1)
        routes = _portal_routes(app)
        assert len(routes) > 15
        for user in ("retailer_admin_b1", "partner_admin_b"):
            beta = create_app(settings, clock=clock)  # an app per client: lifespans do not share a Redis pool
            async with AsyncTestClient(beta, base_url="https://beta.localhost") as browser:
                assert (await sign_in(browser, world.users[user].email, PASSWORD)).status_code == 303
                token = await csrf_token(browser, "/")
                for method, path in routes:
                    url = _fill_portal(path, mine)
                    if method == "GET":
                        response = await browser.get(url, params=QUERIES, follow_redirects=False)
                    else:
                        form = {
                            "_csrf_token": token,
                            "name": "taken over",
                            "connection": mine.ids["connection_id"],
                            "destination": f"{mine.ids['connection_id']}:{mine.ids['recipe_id']}",
                            "domain": "prices",
                            "direction": "outbound",
                            "email": "intruder@b1.example",
                            "role": "retailer_admin",
                        }
                        response = await browser.post(url, data=form, follow_redirects=False)
                    opens_own = (
                        any(f"{{{name}" in path for name in PORTAL_NOT_IDS) and "{tenant_id" not in path
                    )
                    allowed = (200, 400, 403, 404) if opens_own else (403, 404)
                    assert response.status_code in allowed, f"{user} {method} {url}: {response.status_code}"
                    _never_shows(response.text, mine)
        listed = await client.get("/api/v1/api-keys", headers=bearer(mine.key))
        assert all(key["revoked_at"] is None for key in listed.json()["items"])  # nothing was changed
