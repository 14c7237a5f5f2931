"""Every built-in template loads, declares a valid config schema, and ships a default recipe for each
domain it reads (inbound) and writes (outbound); every sandbox starts and serves its control routes."""

from __future__ import annotations

import httpx
import pytest

from connectors.recipes import default_recipe, run_tests
from connectors.registry import UnknownTemplateError, template_class, template_keys
from connectors.sandboxes import SANDBOXES, create_sandbox
from connectors.sdk.config import check_schema, secret_fields
from tests.connectors.serving import serve

SECRET_NAMES = {
    "password",
    "secret",
    "token",
    "access_token",
    "api_key",
    "client_secret",
    "refresh_token",
    "private_key",
}


@pytest.mark.parametrize("key", template_keys())
class TestBuiltinTemplate:
    def test_declares_a_valid_schema_with_secrets_write_only(self, key: str) -> None:
        template = template_class(key)
        check_schema(template.config_schema)
        properties = template.config_schema.get("properties", {})
        looks_secret = {name for name in properties if name in SECRET_NAMES}
        assert looks_secret <= secret_fields(template.config_schema), f"{key}: mark secrets writeOnly"
        assert template.reads or template.writes

    def test_ships_a_passing_default_recipe_per_domain_and_direction(self, key: str) -> None:
        template = template_class(key)
        wanted = [(d.value, "inbound") for d in template.reads] + [
            (d.value, "outbound") for d in template.writes
        ]
        for domain, direction in wanted:
            spec = default_recipe(key, domain, direction)
            assert spec is not None, f"{key} has no default {domain}.{direction} recipe"
            results = run_tests(spec)
            assert results, f"{key} {domain}.{direction} has no test cases"
            assert all(r.passed for r in results), [str(r) for r in results if not r.passed]


def test_unknown_template() -> None:
    with pytest.raises(UnknownTemplateError):
        template_class("sap-r2")


SANDBOX_ROUTES = {
    "marketplace": ("GET", "/orders/v0/orders"),
    "oauth": ("POST", "/oauth/token"),
    "pos": ("GET", "/v2/locations"),
    "rest": ("GET", "/page/items?api_key=sandbox-key"),  # its auth guard runs before the faults
    "shopify": ("POST", "/admin/api/2026-10/graphql.json"),
    "stripe": ("GET", "/v1/customers"),  # faults answer before its key is checked
}


def test_every_sandbox_is_covered() -> None:
    assert set(SANDBOX_ROUTES) == set(SANDBOXES)


@pytest.mark.parametrize(("name", "route"), sorted(SANDBOX_ROUTES.items()))
async def test_sandbox_injects_faults_on_its_routes(name: str, route: tuple[str, str]) -> None:
    method, path = route
    async with serve(create_sandbox(name)) as url, httpx.AsyncClient(base_url=url) as client:
        queued = await client.post("/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 2})
        assert queued.status_code == 201
        injected = await client.request(method, path)
        assert injected.status_code == 429
        assert injected.headers["retry-after"] == "2"
        assert (await client.request(method, path)).status_code != 429  # the fault was used up
        log = (await client.get("/_sandbox/requests")).json()
        assert [entry["status"] for entry in log] == [429, None]
        assert log[0]["path"] == path.split("?")[0]
