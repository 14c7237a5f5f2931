"""/api/v1/recipes: versions validated, compiled and test-run on save; previews on samples."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.database.engine import Database
from app.database.scope import DbScope
from app.recipes.models import RecipeVersion
from tenants.audit import AuditEntry
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

PRICE_OUT: dict[str, Any] = {
    "recipe": 1,
    "name": "prices to the web shop",
    "direction": "outbound",
    "input": "price",
    "output": "shop.price",
    "fields": {
        "sku": "sku",
        "price": {"from": "amount", "money": {"to": "minor", "currency": "currency"}},
        "currencyCode": {"from": "currency"},
    },
    "tests": [
        {
            "name": "euros to cents",
            "input": {"sku": "A-1", "amount": "19.99", "currency": "EUR"},
            "output": {"sku": "A-1", "price": 1999, "currencyCode": "EUR"},
        }
    ],
}
SOURCE_YAML = """
recipe: 1
name: stock from the ERP
direction: inbound
input: erp.stock
output: stock_balance
fields:
  sku: {from: code}
  location: {value: WH1}
  on_hand: {from: qty, cast: int}
tests:
  - name: a count
    input: {code: B-2, qty: "7"}
    output: {sku: B-2, location: WH1, on_hand: 7}
"""
SCOPES = ["recipes:read", "recipes:write"]


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, SCOPES)


async def save(client: AsyncTestClient[Any], key: str, **body: Any) -> Any:
    return await client.post(
        "/api/v1/recipes", json={"name": "web prices", "domain": "prices", **body}, headers=bearer(key)
    )


class TestSaveRecipe:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.post("/api/v1/recipes", json={}), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        reader = await factories.make_api_key(db, world.tenant_a1, ["recipes:read"])
        assert_problem(await save(client, reader, spec=PRICE_OUT), 403, "missing-scope")

    async def test_valid_creates_version_one_and_audits(
        self, client: AsyncTestClient[Any], key: str, db: Database
    ) -> None:
        response = await save(client, key, spec=PRICE_OUT)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["created"] is True
        assert body["version"]["version"] == 1
        assert body["recipe"]["direction"] == "outbound"
        assert body["tests"] == [{"name": "euros to cents", "passed": True, "differences": [], "error": None}]
        async with db.transaction(DbScope.system()) as session:
            actions = (await session.scalars(select(AuditEntry.action))).all()
        assert "recipe.version_saved" in actions

    async def test_same_spec_again_is_not_a_new_version(self, client: AsyncTestClient[Any], key: str) -> None:
        await save(client, key, spec=PRICE_OUT)
        again = await save(client, key, spec=PRICE_OUT)
        assert again.status_code == 200
        assert again.json()["created"] is False
        assert again.json()["version"]["version"] == 1

    async def test_changed_spec_is_version_two(self, client: AsyncTestClient[Any], key: str) -> None:
        first = (await save(client, key, spec=PRICE_OUT)).json()
        changed = copy.deepcopy(PRICE_OUT)
        changed["fields"]["channel"] = {"value": "web"}
        changed["tests"][0]["output"]["channel"] = "web"
        second = await save(client, key, spec=changed)
        assert second.status_code == 201
        assert second.json()["version"]["version"] == 2
        detail = (await client.get(f"/api/v1/recipes/{first['recipe']['id']}", headers=bearer(key))).json()
        assert [v["version"] for v in detail["versions"]] == [2, 1]
        assert detail["latest"]["spec"]["fields"]["channel"] == {"value": "web"}
        old = await client.get(f"/api/v1/recipes/{first['recipe']['id']}/versions/1", headers=bearer(key))
        assert "channel" not in old.json()["spec"]["fields"]
        diff = await client.get(f"/api/v1/recipes/{first['recipe']['id']}/diff?base=1", headers=bearer(key))
        assert diff.json() == {
            "base": 1,
            "target": 2,
            "changes": [
                {"path": "fields.channel", "kind": "added", "before": None, "after": {"value": "web"}},
                {"path": "tests[0].output.channel", "kind": "added", "before": None, "after": "web"},
            ],
        }
        missing = await client.get(
            f"/api/v1/recipes/{first['recipe']['id']}/diff?base=1&target=7", headers=bearer(key)
        )
        assert_problem(missing, 404, "not-found")

    async def test_yaml_source(self, client: AsyncTestClient[Any], key: str) -> None:
        response = await client.post(
            "/api/v1/recipes",
            json={"name": "erp stock", "domain": "inventory", "source": SOURCE_YAML},
            headers=bearer(key),
        )
        assert response.status_code == 201, response.text
        assert response.json()["recipe"]["direction"] == "inbound"

    async def test_invalid_spec_lists_every_problem_with_paths(
        self, client: AsyncTestClient[Any], key: str, db: Database
    ) -> None:
        bad = copy.deepcopy(PRICE_OUT)
        bad["fields"]["price"]["money"]["to"] = "cents"
        bad["input"] = "bananas"
        body = assert_problem(await save(client, key, spec=bad), 422, "invalid-recipe")
        paths = {e["path"] for e in body["errors"]}  # type: ignore[attr-defined]
        assert "spec.fields.price.money.to" in paths
        assert "spec.input" in paths
        await self._nothing_saved(db)

    async def test_failing_test_case_saves_nothing(
        self, client: AsyncTestClient[Any], key: str, db: Database
    ) -> None:
        wrong = copy.deepcopy(PRICE_OUT)
        wrong["tests"][0]["output"]["price"] = 2000
        body = assert_problem(await save(client, key, spec=wrong), 422, "recipe-tests-failed")
        assert body["errors"]
        assert "price" in body["errors"][0]["reason"]  # type: ignore[index]
        await self._nothing_saved(db)

    async def test_bad_yaml(self, client: AsyncTestClient[Any], key: str) -> None:
        body = assert_problem(await save(client, key, source="fields: [unclosed"), 422, "invalid-recipe")
        assert body["errors"][0]["path"] == "source"  # type: ignore[index]

    async def test_unknown_domain(self, client: AsyncTestClient[Any], key: str) -> None:
        response = await client.post(
            "/api/v1/recipes", json={"name": "x", "domain": "weather", "spec": PRICE_OUT}, headers=bearer(key)
        )
        body = assert_problem(response, 422, "invalid-recipe")
        assert body["errors"][0]["path"] == "domain"  # type: ignore[index]

    @staticmethod
    async def _nothing_saved(db: Database) -> None:
        async with db.transaction(DbScope.system()) as session:
            assert await session.scalar(select(func.count()).select_from(RecipeVersion)) == 0


class TestReadRecipe:
    async def test_other_tenant(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database
    ) -> None:
        created = (await save(client, key, spec=PRICE_OUT)).json()
        stranger = await factories.make_api_key(db, world.tenant_b1, SCOPES)
        url = f"/api/v1/recipes/{created['recipe']['id']}"
        assert_problem(await client.get(url, headers=bearer(stranger)), 404, "not-found")
        listed = await client.get("/api/v1/recipes", headers=bearer(stranger))
        assert listed.json()["items"] == []

    async def test_list_paginates(self, client: AsyncTestClient[Any], key: str) -> None:
        for n in range(3):
            await client.post(
                "/api/v1/recipes",
                json={"name": f"r{n}", "domain": "prices", "spec": PRICE_OUT},
                headers=bearer(key),
            )
        first = (await client.get("/api/v1/recipes?limit=2", headers=bearer(key))).json()
        assert [r["name"] for r in first["items"]] == ["r2", "r1"]
        rest = (
            await client.get(f"/api/v1/recipes?limit=2&cursor={first['next_cursor']}", headers=bearer(key))
        ).json()
        assert [r["name"] for r in rest["items"]] == ["r0"]
        assert rest["next_cursor"] is None


class TestPreview:
    async def test_saved_recipe_maps_each_sample_alone(self, client: AsyncTestClient[Any], key: str) -> None:
        created = (await save(client, key, spec=PRICE_OUT)).json()
        samples = [
            {"sku": "A-1", "amount": "5.00", "currency": "EUR"},
            {"sku": "A-2", "amount": "1.234", "currency": "EUR"},
        ]
        response = await client.post(
            f"/api/v1/recipes/{created['recipe']['id']}/preview",
            json={"samples": samples},
            headers=bearer(key),
        )
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert results[0] == {
            "index": 0,
            "status": "ok",
            "output": {"sku": "A-1", "price": 500, "currencyCode": "EUR"},
            "error": None,
        }
        assert results[1]["status"] == "failed"
        assert results[1]["error"]["path"] == "fields.price"

    async def test_draft_with_problems_answers_200_with_them(
        self, client: AsyncTestClient[Any], key: str
    ) -> None:
        draft = copy.deepcopy(PRICE_OUT)
        draft["fields"]["title"] = {"expr": "record.__class__"}
        response = await client.post(
            "/api/v1/recipes/preview", json={"spec": draft, "samples": [{}]}, headers=bearer(key)
        )
        assert response.status_code == 200
        body = response.json()
        assert body["valid"] is False
        assert any(p["path"].startswith("fields.title") for p in body["problems"])

    async def test_unknown_version(self, client: AsyncTestClient[Any], key: str) -> None:
        created = (await save(client, key, spec=PRICE_OUT)).json()
        response = await client.post(
            f"/api/v1/recipes/{created['recipe']['id']}/preview",
            json={"samples": [{}], "version": 9},
            headers=bearer(key),
        )
        assert_problem(response, 404, "not-found")


class TestDefaultRecipes:
    async def test_every_default_recipe_is_listed_and_valid(
        self, client: AsyncTestClient[Any], key: str
    ) -> None:
        response = await client.get("/api/v1/recipes/defaults", headers=bearer(key))
        assert response.status_code == 200
        defaults = response.json()
        assert defaults, "built-in templates ship default recipes"
        for entry in defaults:
            preview = await client.post(
                "/api/v1/recipes/preview", json={"spec": entry["spec"], "samples": [{}]}, headers=bearer(key)
            )
            body = preview.json()
            assert body["valid"], (entry["template"], entry["domain"], body["problems"])
            assert all(t["passed"] for t in body["tests"]), (
                entry["template"],
                entry["domain"],
                body["tests"],
            )
