"""/api/v1/promotions: propose, validate against the rules (failures per rule with the offending SKUs),
approve under the two-person rule, and only legal state changes, each recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from connectors.recipes import default_recipe
from tenants.audit import AuditEntry
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.app.promotions.estate import SCOPES
from tests.factories import World

START = datetime(2026, 12, 1, tzinfo=UTC)


def promotion(
    code: str = "XMAS-20", skus: list[str] | None = None, percent: str = "20", **more: Any
) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Christmas 20 %",
        "rule": {"type": "percent_off", "percent": percent},
        "window": {"starts_at": START.isoformat(), "ends_at": (START + timedelta(days=7)).isoformat()},
        "eligibility": {"skus": skus if skus is not None else ["TEA-1", "TEA-2"]},
        **more,
    }


@pytest.fixture
async def keys(world: World, db: Database) -> tuple[str, str]:
    """A proposer and an approver: two keys of the same retailer."""
    return (
        await factories.make_api_key(db, world.tenant_a1, SCOPES, name="merchandiser"),
        await factories.make_api_key(db, world.tenant_a1, SCOPES, name="manager"),
    )


async def seed_catalogue(client: AsyncTestClient[Any], key: str) -> None:
    """Two sellable teas with costs, prices and stock."""
    items = [
        {"sku": "TEA-1", "title": "Green tea", "unit_cost": {"amount": "3.00", "currency": "EUR"}},
        {"sku": "TEA-2", "title": "Black tea", "unit_cost": {"amount": "9.00", "currency": "EUR"}},
        {"sku": "TEA-3", "title": "Old tea", "is_sellable": False},
    ]
    for stream, body in (
        ("items", items),
        (
            "prices",
            [
                {"sku": "TEA-1", "amount": "10.00", "currency": "EUR"},
                {"sku": "TEA-2", "amount": "10.00", "currency": "EUR"},
            ],
        ),
        (
            "inventory",
            [
                {"sku": "TEA-1", "location": "WH1", "on_hand": 50},
                {"sku": "TEA-2", "location": "WH1", "on_hand": 50},
            ],
        ),
    ):
        response = await client.post(f"/api/v1/events/{stream}", json={"items": body}, headers=bearer(key))
        assert response.json()["rejected"] == 0, response.text


async def propose(
    client: AsyncTestClient[Any], key: str, body: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    response = await client.post("/api/v1/promotions", json={"promotion": body, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestPropose:
    async def test_anonymous_and_missing_scope(
        self, client: AsyncTestClient[Any], world: World, db: Database
    ) -> None:
        assert_problem(await client.post("/api/v1/promotions", json={}), 401, "missing-api-key")
        reader = await factories.make_api_key(db, world.tenant_a1, ["promotions:read"])
        response = await client.post(
            "/api/v1/promotions", json={"promotion": promotion()}, headers=bearer(reader)
        )
        assert_problem(response, 403, "missing-scope")

    async def test_invalid_promotion_names_the_path(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        response = await client.post(
            "/api/v1/promotions", json={"promotion": promotion(percent="150")}, headers=bearer(keys[0])
        )
        body = assert_problem(response, 422, "validation-failed")
        assert body["errors"] == [
            {"path": "promotion.rule.percent", "reason": "must be more than 0 and at most 100, got 150"}
        ]

    async def test_starts_as_a_draft_and_codes_are_unique(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        created = await propose(client, keys[0], promotion())
        assert (created["state"], created["history"]) == ("draft", [])
        again = await client.post(
            "/api/v1/promotions", json={"promotion": promotion()}, headers=bearer(keys[0])
        )
        assert_problem(again, 409, "duplicate-code")

    async def test_list_filters_by_state(self, client: AsyncTestClient[Any], keys: tuple[str, str]) -> None:
        created = await propose(client, keys[0], promotion())
        drafts = (await client.get("/api/v1/promotions?state=draft", headers=bearer(keys[0]))).json()["items"]
        assert [p["id"] for p in drafts] == [created["id"]]
        approved = (await client.get("/api/v1/promotions?state=approved", headers=bearer(keys[0]))).json()[
            "items"
        ]
        assert approved == []

    async def test_other_tenant(
        self, client: AsyncTestClient[Any], keys: tuple[str, str], world: World, db: Database
    ) -> None:
        created = await propose(client, keys[0], promotion())
        stranger = await factories.make_api_key(db, world.tenant_b1, SCOPES)
        assert_problem(
            await client.get(f"/api/v1/promotions/{created['id']}", headers=bearer(stranger)),
            404,
            "not-found",
        )


class TestValidate:
    async def test_failures_per_rule_with_the_offending_skus(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        await seed_catalogue(client, keys[0])
        flow_free = promotion(skus=["TEA-1", "TEA-2", "TEA-3", "NOPE-9"])
        flow_free["eligibility"]["locations"] = ["WH1", "STORE-404"]
        created = await propose(client, keys[0], flow_free)
        response = await client.post(
            f"/api/v1/promotions/{created['id']}/validate",
            json={"min_available": 10},
            headers=bearer(keys[0]),
        )
        body = assert_problem(response, 422, "promotion-invalid")
        failures = {f["rule"]: f["subjects"] for f in body["errors"]}  # type: ignore[attr-defined]
        assert failures == {
            "skus_exist": ["NOPE-9"],
            "skus_sellable": ["TEA-3"],
            "locations_exist": ["STORE-404"],
            "priced": ["NOPE-9", "TEA-3"],
            "enough_stock": ["NOPE-9", "TEA-3"],
        }
        shown = (await client.get(f"/api/v1/promotions/{created['id']}", headers=bearer(keys[0]))).json()
        assert (shown["state"], shown["validation"]["ok"]) == ("draft", False)

    async def test_margin_and_floor_from_the_price_flows(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        key = keys[0]
        await seed_catalogue(client, key)
        connection = await client.post(
            "/api/v1/connections",
            json={
                "name": "shop",
                "template": "rest",
                "config": {"base_url": "https://shop.example", "api_key": "k"},
            },
            headers=bearer(key),
        )
        recipe = await client.post(
            "/api/v1/recipes",
            json={"name": "prices", "domain": "prices", "spec": default_recipe("rest", "prices", "outbound")},
            headers=bearer(key),
        )
        flow = await client.post(
            "/api/v1/flows",
            json={
                "name": "prices out",
                "domain": "prices",
                "settings": {"min_margin_percent": "30", "price_floor": "2.00"},
                "destinations": [
                    {"connection_id": connection.json()["id"], "recipe_id": recipe.json()["recipe"]["id"]}
                ],
            },
            headers=bearer(key),
        )
        assert flow.status_code == 201, flow.text
        created = await propose(client, key, promotion(percent="20"))  # 10.00 → 8.00
        response = await client.post(
            f"/api/v1/promotions/{created['id']}/validate", json={}, headers=bearer(key)
        )
        failures = {f["rule"]: f["subjects"] for f in response.json()["errors"]}
        assert failures == {"margin": ["TEA-2"]}  # cost 9.00: -12.5 %; TEA-1 (cost 3.00) keeps 62.5 %
        deep = await propose(client, key, promotion(code="DEEP", percent="90"))  # 10.00 → 1.00
        response = await client.post(
            f"/api/v1/promotions/{deep['id']}/validate", json={}, headers=bearer(key)
        )
        assert {f["rule"]: f["subjects"] for f in response.json()["errors"]}["price_floor"] == [
            "TEA-1",
            "TEA-2",
        ]

    async def test_overlap_unless_both_stack(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        await seed_catalogue(client, keys[0])
        live = await propose(client, keys[0], promotion(code="LIVE", skus=["TEA-1"], is_stackable=True))
        passed = await client.post(
            f"/api/v1/promotions/{live['id']}/validate", json={}, headers=bearer(keys[0])
        )
        assert passed.status_code == 200, passed.text
        assert passed.json()["state"] == "validated"
        clash = await propose(client, keys[0], promotion(code="CLASH", skus=["TEA-1", "TEA-2"]))
        response = await client.post(
            f"/api/v1/promotions/{clash['id']}/validate", json={}, headers=bearer(keys[0])
        )
        failures = {f["rule"]: f["subjects"] for f in response.json()["errors"]}
        assert failures == {"no_overlap": ["LIVE"]}
        created = await propose(client, keys[0], promotion(code="STACK", skus=["TEA-1"], is_stackable=True))
        ok = await client.post(
            f"/api/v1/promotions/{created['id']}/validate", json={}, headers=bearer(keys[0])
        )
        assert ok.status_code == 200, ok.text
        later = await propose(
            client,
            keys[0],
            promotion(code="JANUARY", skus=["TEA-1"])
            | {
                "window": {
                    "starts_at": (START + timedelta(days=30)).isoformat(),
                    "ends_at": (START + timedelta(days=37)).isoformat(),
                }
            },
        )
        ok = await client.post(f"/api/v1/promotions/{later['id']}/validate", json={}, headers=bearer(keys[0]))
        assert ok.status_code == 200, ok.text

    async def test_basket_rules_cannot_be_deployed_as_prices(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        await seed_catalogue(client, keys[0])
        basket = promotion(code="3-FOR-2", skus=["TEA-1"])
        basket["rule"] = {"type": "buy_x_get_y", "buy": 2, "get": 1}
        created = await propose(client, keys[0], basket)
        response = await client.post(
            f"/api/v1/promotions/{created['id']}/validate", json={}, headers=bearer(keys[0])
        )
        body = assert_problem(response, 422, "promotion-invalid")
        assert [f["rule"] for f in body["errors"]] == ["deployable"]  # type: ignore[attr-defined]


class TestApprove:
    async def test_two_person_rule_then_approval_with_history(
        self, client: AsyncTestClient[Any], keys: tuple[str, str], db: Database
    ) -> None:
        proposer, approver = keys
        await seed_catalogue(client, proposer)
        created = await propose(client, proposer, promotion())
        url = f"/api/v1/promotions/{created['id']}"
        early = await client.post(f"{url}/approve", json={}, headers=bearer(approver))
        body = assert_problem(early, 409, "illegal-transition")
        assert (body["state"], body["allowed"]) == ("draft", ["validated"])
        assert (await client.post(f"{url}/validate", json={}, headers=bearer(proposer))).status_code == 200
        assert_problem(
            await client.post(f"{url}/approve", json={}, headers=bearer(proposer)), 403, "two-person-rule"
        )
        approved = await client.post(
            f"{url}/approve", json={"reason": "margin checked"}, headers=bearer(approver)
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "approved"
        history = (await client.get(url, headers=bearer(proposer))).json()["history"]
        assert [(h["from_state"], h["to_state"], h["reason"]) for h in history] == [
            ("draft", "validated", None),
            ("validated", "approved", "margin checked"),
        ]
        edit = await client.patch(url, json={"promotion": promotion(percent="25")}, headers=bearer(proposer))
        assert_problem(edit, 409, "not-a-draft")
        reopened = await client.post(
            f"{url}/reopen", json={"reason": "deeper discount"}, headers=bearer(proposer)
        )
        assert (reopened.json()["state"], reopened.json()["approved_by"]) == ("draft", None)
        edited = await client.patch(
            url, json={"promotion": promotion(percent="25")}, headers=bearer(proposer)
        )
        assert edited.json()["promotion"]["rule"]["percent"] == "25"
        async with db.transaction(DbScope.system()) as session:
            actions = (
                await session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "promotion"))
            ).all()
        assert actions == [
            "promotion.proposed",
            "promotion.validated",
            "promotion.approved",
            "promotion.reopened",
            "promotion.edited",
        ]

    async def test_without_the_two_person_rule_the_proposer_may_approve(
        self, client: AsyncTestClient[Any], keys: tuple[str, str]
    ) -> None:
        await seed_catalogue(client, keys[0])
        created = await propose(client, keys[0], promotion(), requires_second_approver=False)
        url = f"/api/v1/promotions/{created['id']}"
        await client.post(f"{url}/validate", json={}, headers=bearer(keys[0]))
        assert (await client.post(f"{url}/approve", json={}, headers=bearer(keys[0]))).json()[
            "state"
        ] == "approved"
