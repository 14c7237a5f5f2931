"""``/api/v1/alert-rules`` and ``/api/v1/alert-incidents``: scopes, tenant isolation, validation at the
edge (422 with path and reason), the webhook secret shown once and sealed at rest, audited changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.alerts.evaluation import evaluate_alerts
from app.alerts.service import RuleSpec, webhook_secret
from app.clock import FrozenClock
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.factory import create_app
from app.settings import Settings
from tenants.audit import AuditEntry
from tests import factories
from tests.app.alerts.conftest import Flows, dead_letters, discard_all, incidents, make_rule, stored_rule
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

RULES = "/api/v1/alert-rules"
INCIDENTS = "/api/v1/alert-incidents"
SCOPES = ["alerts:read", "alerts:write"]
HOOK = "https://hooks.a1.example/alerts"


def rule_body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "dead letters",
        "metric": "dead_letters_open",
        "threshold": 0,
        "emails": ["ops@a1.example"],
        "webhook_url": HOOK,
    } | changes


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, SCOPES)


@pytest.fixture
async def reader(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["alerts:read"])


@pytest.fixture
async def stranger(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a2, SCOPES)


async def audit_of(db: Database, rule_id: str) -> list[AuditEntry]:
    async with db.transaction(DbScope.system()) as session:
        query = select(AuditEntry).where(
            AuditEntry.target_type == "alert_rule", AuditEntry.target_id == rule_id
        )
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def create(client: AsyncTestClient[Any], key: str, **changes: Any) -> dict[str, Any]:
    response = await client.post(RULES, json=rule_body(**changes), headers=bearer(key))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def strict_client(settings: Settings, clock: FrozenClock) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app as production runs it: no private addresses, nothing on the allow-list."""
    app = create_app(replace(settings, connector_allow_private=False), clock=clock)
    async with AsyncTestClient(app, base_url="https://localhost") as test_client:
        yield test_client


class TestCreateAlertRule:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.post(RULES, json=rule_body()), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], reader: str) -> None:
        assert_problem(
            await client.post(RULES, json=rule_body(), headers=bearer(reader)), 403, "missing-scope"
        )

    async def test_other_tenant(self, client: AsyncTestClient[Any], stranger: str, flows: Flows) -> None:
        response = await client.post(RULES, json=rule_body(flow_id=str(flows.shop)), headers=bearer(stranger))
        problem = assert_problem(response, 422, "invalid-alert-rule")
        assert problem["errors"] == [{"path": "flow_id", "reason": "no such flow"}]

    @pytest.mark.parametrize(
        ("changes", "path", "reason"),
        [
            ({"metric": "cpu"}, "metric", "unknown metric"),
            ({"comparison": "=="}, "comparison", "one of"),
            ({"metric": "success_rate", "threshold": 120}, "threshold", "never above 100"),
            ({"threshold": -1}, "threshold", "never below 0"),
            ({"window_seconds": 5}, "window_seconds", "between 60 and 86400"),
            ({"emails": ["ops@a1.example", "not-an-address"]}, "emails[1]", "not an e-mail address"),
            ({"emails": [], "webhook_url": None}, "emails", "a webhook_url, or both"),
            ({"webhook_url": "ftp://hooks.a1.example/x"}, "webhook_url", "must be an https URL"),
            (
                {"webhook_url": "https://user:pw@hooks.a1.example/x"},
                "webhook_url",
                "must not carry credentials",
            ),
            ({"flow_id": str(uuid.uuid4())}, "flow_id", "no such flow"),
        ],
    )
    async def test_invalid(
        self, client: AsyncTestClient[Any], key: str, changes: dict[str, Any], path: str, reason: str
    ) -> None:
        response = await client.post(RULES, json=rule_body(**changes), headers=bearer(key))
        problem = assert_problem(response, 422, "invalid-alert-rule")
        errors: list[dict[str, str]] = problem["errors"]  # type: ignore[assignment]
        assert [error["path"] for error in errors] == [path]
        assert reason in errors[0]["reason"]

    async def test_every_problem_at_once(self, client: AsyncTestClient[Any], key: str) -> None:
        body = rule_body(metric="cpu", window_seconds=0, webhook_url="ftp://x.example", emails=["@"])
        problem = assert_problem(
            await client.post(RULES, json=body, headers=bearer(key)), 422, "invalid-alert-rule"
        )
        paths = [error["path"] for error in problem["errors"]]  # type: ignore[attr-defined]
        assert paths == ["metric", "window_seconds", "emails[0]", "webhook_url"]

    async def test_wrong_types_are_a_bad_request(self, client: AsyncTestClient[Any], key: str) -> None:
        response = await client.post(RULES, json=rule_body(threshold="lots"), headers=bearer(key))
        assert_problem(response, 400, "bad-request")

    async def test_webhook_outside_the_ssrf_allow_list(
        self, strict_client: AsyncTestClient[Any], key: str
    ) -> None:
        for url, reason in (
            ("http://hooks.a1.example/alerts", "must be an https URL"),
            ("https://127.0.0.1:8443/alerts", "private or local address"),
            ("https://[::1]/alerts", "private or local address"),
        ):
            response = await strict_client.post(RULES, json=rule_body(webhook_url=url), headers=bearer(key))
            problem = assert_problem(response, 422, "invalid-alert-rule")
            assert problem["errors"][0]["path"] == "webhook_url"  # type: ignore[index]
            assert reason in problem["errors"][0]["reason"]  # type: ignore[index]

    async def test_an_allowed_host_may_use_http(
        self, settings: Settings, clock: FrozenClock, key: str
    ) -> None:
        allowed = replace(
            settings, connector_allow_private=False, connector_allowed_hosts=frozenset({"127.0.0.1"})
        )
        async with AsyncTestClient(create_app(allowed, clock=clock), base_url="https://localhost") as client:
            response = await client.post(
                RULES, json=rule_body(webhook_url="http://127.0.0.1:9000/alerts"), headers=bearer(key)
            )
        assert response.status_code == 201, response.text

    async def test_valid(
        self, client: AsyncTestClient[Any], key: str, db: Database, settings: Settings, flows: Flows
    ) -> None:
        created = await create(client, key, metric="success_rate", threshold=97.5, flow_id=str(flows.shop))
        assert created["comparison"] == "<"  # the metric's usual comparison
        assert created["window_seconds"] == 900
        assert created["enabled"] is True
        assert created["flow_id"] == str(flows.shop)
        secret = created["webhook_secret"]
        assert secret.startswith("whsec_")
        row = await stored_rule(db, uuid.UUID(created["id"]))
        assert row.webhook_secret_sealed is not None
        assert secret not in row.webhook_secret_sealed  # sealed, not stored plain
        assert webhook_secret(SecretBox.from_settings(settings), row) == secret
        read = (await client.get(f"{RULES}/{created['id']}", headers=bearer(key))).json()
        assert read["webhook_secret"] is None  # shown once
        [entry] = await audit_of(db, created["id"])
        assert entry.action == "alert_rule.created"
        assert entry.changes["after"]["threshold"] == 97.5
        assert secret not in str(entry.changes)

    async def test_duplicate_name(self, client: AsyncTestClient[Any], key: str) -> None:
        await create(client, key)
        response = await client.post(RULES, json=rule_body(), headers=bearer(key))
        assert_problem(response, 409, "duplicate-name")


class TestListAlertRules:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(RULES), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        other = await factories.make_api_key(db, world.tenant_a1, ["health:read"])
        assert_problem(await client.get(RULES, headers=bearer(other)), 403, "missing-scope")

    async def test_other_tenant(self, client: AsyncTestClient[Any], key: str, stranger: str) -> None:
        await create(client, key)
        response = await client.get(RULES, headers=bearer(stranger))
        assert response.json() == {"items": [], "next_cursor": None}

    async def test_valid(self, client: AsyncTestClient[Any], key: str, reader: str) -> None:
        names = [(await create(client, key, name=f"rule {n}"))["name"] for n in range(3)]
        first = (await client.get(f"{RULES}?limit=2", headers=bearer(reader))).json()
        rest = (
            await client.get(f"{RULES}?limit=2&cursor={first['next_cursor']}", headers=bearer(reader))
        ).json()
        seen = [rule["name"] for rule in first["items"] + rest["items"]]
        assert sorted(seen) == sorted(names)
        assert len(first["items"]) == 2
        assert rest["next_cursor"] is None
        assert all(rule["webhook_secret"] is None for rule in first["items"] + rest["items"])


class TestReadAlertRule:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(f"{RULES}/{uuid.uuid4()}"), 401, "missing-api-key")

    async def test_missing_scope(
        self, client: AsyncTestClient[Any], world: World, db: Database, key: str
    ) -> None:
        created = await create(client, key)
        other = await factories.make_api_key(db, world.tenant_a1, ["health:read"])
        assert_problem(
            await client.get(f"{RULES}/{created['id']}", headers=bearer(other)), 403, "missing-scope"
        )

    async def test_other_tenant(self, client: AsyncTestClient[Any], key: str, stranger: str) -> None:
        created = await create(client, key)
        assert_problem(
            await client.get(f"{RULES}/{created['id']}", headers=bearer(stranger)), 404, "not-found"
        )

    async def test_valid(self, client: AsyncTestClient[Any], key: str, reader: str) -> None:
        created = await create(client, key)
        read = (await client.get(f"{RULES}/{created['id']}", headers=bearer(reader))).json()
        assert read == created | {"webhook_secret": None}


class TestUpdateAlertRule:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.patch(f"{RULES}/{uuid.uuid4()}", json={}), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], key: str, reader: str) -> None:
        created = await create(client, key)
        response = await client.patch(
            f"{RULES}/{created['id']}", json={"threshold": 3}, headers=bearer(reader)
        )
        assert_problem(response, 403, "missing-scope")

    async def test_other_tenant(self, client: AsyncTestClient[Any], key: str, stranger: str) -> None:
        created = await create(client, key)
        response = await client.patch(
            f"{RULES}/{created['id']}", json={"threshold": 3}, headers=bearer(stranger)
        )
        assert_problem(response, 404, "not-found")

    async def test_invalid(self, client: AsyncTestClient[Any], key: str) -> None:
        created = await create(client, key)
        response = await client.patch(
            f"{RULES}/{created['id']}", json={"metric": "success_rate", "threshold": 101}, headers=bearer(key)
        )
        problem = assert_problem(response, 422, "invalid-alert-rule")
        assert problem["errors"] == [{"path": "threshold", "reason": "success_rate is never above 100"}]

    async def test_valid(self, client: AsyncTestClient[Any], key: str, db: Database, flows: Flows) -> None:
        created = await create(client, key)
        url = f"{RULES}/{created['id']}"
        response = await client.patch(
            url, json={"name": "many dead letters", "threshold": 5}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        changed = response.json()
        assert (changed["name"], changed["threshold"], changed["comparison"]) == ("many dead letters", 5, ">")
        assert changed["webhook_secret"] is None  # the secret is kept, not shown
        assert changed["emails"] == created["emails"]
        rotated = (await client.patch(url, json={"rotate_webhook_secret": True}, headers=bearer(key))).json()
        assert rotated["webhook_secret"].startswith("whsec_")
        assert rotated["webhook_secret"] != created["webhook_secret"]
        dropped = (await client.patch(url, json={"webhook_url": None}, headers=bearer(key))).json()
        assert dropped["webhook_url"] is None
        assert (await stored_rule(db, uuid.UUID(created["id"]))).webhook_secret_sealed is None
        actions = [(entry.action, sorted(entry.changes)) for entry in await audit_of(db, created["id"])]
        assert actions == [
            ("alert_rule.created", ["after"]),
            ("alert_rule.updated", ["name", "threshold"]),
            ("alert_rule.updated", ["webhook_secret"]),
            ("alert_rule.updated", ["webhook_url"]),
        ]

    async def test_a_changed_condition_closes_open_incidents_silently(
        self,
        client: AsyncTestClient[Any],
        key: str,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        world: World,
        flows: Flows,
    ) -> None:
        created = await create(client, key, webhook_url=None)
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 2)
        await evaluate_alerts(db, clock.now())
        url = f"{RULES}/{created['id']}"
        await client.patch(url, json={"emails": ["other@a1.example"]}, headers=bearer(key))
        assert (await incidents(db))[0].resolved_at is None  # recipients are not the condition
        await client.patch(url, json={"threshold": 5}, headers=bearer(key))
        [incident] = await incidents(db)
        assert incident.resolution == "rule_changed"
        assert incident.recovered_mails == 0
        clock.advance(timedelta(minutes=1))
        await evaluate_alerts(db, clock.now())
        assert len(await incidents(db)) == 1  # 2 dead letters do not exceed the new threshold


class TestDeleteAlertRule:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.delete(f"{RULES}/{uuid.uuid4()}"), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], key: str, reader: str) -> None:
        created = await create(client, key)
        assert_problem(
            await client.delete(f"{RULES}/{created['id']}", headers=bearer(reader)), 403, "missing-scope"
        )

    async def test_other_tenant(self, client: AsyncTestClient[Any], key: str, stranger: str) -> None:
        created = await create(client, key)
        assert_problem(
            await client.delete(f"{RULES}/{created['id']}", headers=bearer(stranger)), 404, "not-found"
        )
        assert (await client.get(f"{RULES}/{created['id']}", headers=bearer(key))).status_code == 200

    async def test_valid(self, client: AsyncTestClient[Any], key: str, db: Database) -> None:
        created = await create(client, key)
        response = await client.delete(f"{RULES}/{created['id']}", headers=bearer(key))
        assert response.status_code == 204
        assert_problem(await client.get(f"{RULES}/{created['id']}", headers=bearer(key)), 404, "not-found")
        entry = (await audit_of(db, created["id"]))[-1]
        assert entry.action == "alert_rule.deleted"
        assert entry.changes["before"]["name"] == "dead letters"


class TestListAlertIncidents:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(INCIDENTS), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        other = await factories.make_api_key(db, world.tenant_a1, ["health:read"])
        assert_problem(await client.get(INCIDENTS, headers=bearer(other)), 403, "missing-scope")

    async def test_other_tenant(
        self,
        client: AsyncTestClient[Any],
        stranger: str,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        world: World,
        flows: Flows,
    ) -> None:
        await make_rule(
            db, settings, world.tenant_a1, RuleSpec("r", "dead_letters_open", ">", 0, emails=["o@a1.example"])
        )
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
        await evaluate_alerts(db, clock.now())
        assert len(await incidents(db)) == 1
        assert (await client.get(INCIDENTS, headers=bearer(stranger))).json()["items"] == []

    async def test_valid(
        self,
        client: AsyncTestClient[Any],
        reader: str,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        world: World,
        flows: Flows,
    ) -> None:
        rule_id, _ = await make_rule(
            db, settings, world.tenant_a1, RuleSpec("r", "dead_letters_open", ">", 0, emails=["o@a1.example"])
        )
        await dead_letters(db, world.tenant_a1, flows.shop_destination, 1)
        await evaluate_alerts(db, clock.now())
        await discard_all(db)
        clock.advance(timedelta(minutes=1))
        await evaluate_alerts(db, clock.now())
        await dead_letters(db, world.tenant_a1, flows.outlet_destination, 1)
        clock.advance(timedelta(minutes=1))
        await evaluate_alerts(db, clock.now())

        everything = (await client.get(INCIDENTS, headers=bearer(reader))).json()["items"]
        assert [(i["flow_id"], i["status"]) for i in everything] == [
            (str(flows.outlet), "open"),
            (str(flows.shop), "resolved"),
        ]
        [open_one] = (await client.get(f"{INCIDENTS}?status=open", headers=bearer(reader))).json()["items"]
        assert open_one["rule_id"] == str(rule_id)
        assert open_one["firing"] == {"mails": 1, "webhook": None, "webhook_delivered_at": None}
        assert open_one["recovered"] is None
        [resolved] = (await client.get(f"{INCIDENTS}?status=resolved", headers=bearer(reader))).json()[
            "items"
        ]
        assert (resolved["opened_value"], resolved["resolved_value"], resolved["resolution"]) == (
            1,
            0,
            "recovered",
        )
        assert resolved["recovered"]["mails"] == 1
        page = (await client.get(f"{INCIDENTS}?limit=1", headers=bearer(reader))).json()
        assert page["next_cursor"]
        by_rule = (await client.get(f"{INCIDENTS}?rule={uuid.uuid4()}", headers=bearer(reader))).json()
        assert by_rule["items"] == []
        assert_problem(
            await client.get(f"{INCIDENTS}?status=lost", headers=bearer(reader)), 400, "bad-request"
        )
