"""/api/v1/dead-letters: listed newest first and per tenant, inspected, replayed into the delivery queue
(as they failed or with a hand-fixed payload, validated and audited before/after) or discarded."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.connections.service import create_connection, network_policy
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter, QueuedDelivery
from app.delivery.queue import NUDGE_TASK
from app.flows.models import Flow, FlowDestination
from app.outbox.models import OutboxMessage
from app.recipes.models import Recipe, RecipeVersion
from app.settings import Settings
from connectors.canonical import StockBalance, to_builtins
from tenants.audit import AuditEntry
from tenants.models import Tenant
from tests import factories
from tests.app.api.calls import assert_problem, bearer
from tests.factories import World

URL = "/api/v1/dead-letters"
SCOPES = ["dead_letters:read", "dead_letters:write"]


def balance(sku: str = "SKU-1", on_hand: int = 3) -> dict[str, Any]:
    payload: dict[str, Any] = to_builtins(StockBalance(sku=sku, location="web", on_hand=on_hand))
    return payload


async def make_destination(
    db: Database, settings: Settings, folder: Path, tenant: Tenant, name: str
) -> uuid.UUID:
    """A webhook connection fed by an inventory flow through an outbound recipe: one flow destination."""
    async with db.transaction(DbScope.system()) as session:
        connection = await create_connection(
            session,
            SecretBox.from_settings(settings),
            folder=folder,
            network=network_policy(settings),
            tenant_id=tenant.id,
            partner_id=tenant.partner_id,
            name=f"{name} hook",
            template_key="webhook",
            values={"secret": "a-webhook-secret-of-some-length"},
            now=datetime.now(UTC),
        )
        recipe = Recipe(
            tenant_id=tenant.id,
            name=f"{name} stock out",
            domain="inventory",
            direction="outbound",
            template_key="webhook",
            latest_version=1,
        )
        flow = Flow(tenant_id=tenant.id, name=f"{name} stock", domain="inventory", trigger="event")
        session.add_all([recipe, flow])
        await session.flush()
        session.add(
            RecipeVersion(recipe_id=recipe.id, tenant_id=tenant.id, version=1, spec={}, spec_digest="0" * 64)
        )
        destination = FlowDestination(
            tenant_id=tenant.id, flow_id=flow.id, connection_id=connection.id, recipe_id=recipe.id
        )
        session.add(destination)
        await session.flush()
        return destination.id


async def add_dead_letter(
    db: Database,
    tenant: Tenant,
    destination_id: uuid.UUID,
    *,
    sku: str = "SKU-1",
    status: str = "open",
    created_at: datetime | None = None,
) -> int:
    async with db.transaction(DbScope.system()) as session:
        row = DeadLetter(
            tenant_id=tenant.id,
            destination_id=destination_id,
            entity_key=sku,
            record_type="stock_balance",
            payload=balance(sku),
            error="HTTP 500 from the webhook",
            attempts=5,
            status=status,
            correlation_id=f"corr-{sku}",
        )
        if created_at is not None:
            row.created_at = created_at
        session.add(row)
        await session.flush()
        return row.id


@dataclass
class Seeded:
    a1: uuid.UUID
    a1_other: uuid.UUID
    a2: uuid.UUID


@pytest.fixture
async def seeded(world: World, db: Database, settings: Settings, tmp_path: Path) -> Seeded:
    return Seeded(
        await make_destination(db, settings, tmp_path, world.tenant_a1, "shop"),
        await make_destination(db, settings, tmp_path, world.tenant_a1, "outlet"),
        await make_destination(db, settings, tmp_path, world.tenant_a2, "shop"),
    )


@pytest.fixture
async def key(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, SCOPES)


@pytest.fixture
async def reader(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a1, ["dead_letters:read"])


@pytest.fixture
async def stranger(world: World, db: Database) -> str:
    return await factories.make_api_key(db, world.tenant_a2, SCOPES)


async def get_json(client: AsyncTestClient[Any], url: str, key: str) -> Any:
    response = await client.get(url, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


async def stored(db: Database, dead_letter_id: int) -> DeadLetter:
    async with db.transaction(DbScope.system()) as session:
        row = await session.get(DeadLetter, dead_letter_id)
        assert row is not None
        return row


async def queued(db: Database) -> list[QueuedDelivery]:
    async with db.transaction(DbScope.system()) as session:
        return list((await session.scalars(select(QueuedDelivery).order_by(QueuedDelivery.id))).all())


async def audit_of(db: Database, dead_letter_id: int) -> list[AuditEntry]:
    async with db.transaction(DbScope.system()) as session:
        query = select(AuditEntry).where(
            AuditEntry.target_type == "dead_letter", AuditEntry.target_id == str(dead_letter_id)
        )
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


class TestListDeadLetters:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(URL), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        other = await factories.make_api_key(db, world.tenant_a1, ["stock:read"])
        assert_problem(await client.get(URL, headers=bearer(other)), 403, "missing-scope")

    async def test_newest_first_with_a_cursor(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        start = datetime.fromisoformat("2026-01-05T10:00:00+00:00")
        ids = [
            await add_dead_letter(
                db, world.tenant_a1, seeded.a1, sku=f"SKU-{n}", created_at=start + timedelta(minutes=n)
            )
            for n in range(3)
        ]
        first = await get_json(client, f"{URL}?limit=2", key)
        assert [d["id"] for d in first["items"]] == [ids[2], ids[1]]
        assert first["next_cursor"]
        rest = await get_json(client, f"{URL}?limit=2&cursor={first['next_cursor']}", key)
        assert [d["id"] for d in rest["items"]] == [ids[0]]
        assert rest["next_cursor"] is None

    async def test_equal_times_are_ordered_by_id(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        at = datetime.fromisoformat("2026-01-05T10:00:00+00:00")
        ids = [
            await add_dead_letter(db, world.tenant_a1, seeded.a1, sku=f"SKU-{n}", created_at=at)
            for n in range(3)
        ]
        seen: list[int] = []
        cursor = ""
        for _ in range(4):
            page = await get_json(client, f"{URL}?limit=1{cursor}", key)
            seen += [d["id"] for d in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert seen == sorted(ids, reverse=True)

    async def test_open_by_default_and_filtered_by_status(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        open_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-1")
        discarded_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-2", status="discarded")
        await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-3", status="replayed")
        assert [d["id"] for d in (await get_json(client, URL, key))["items"]] == [open_id]
        discarded = await get_json(client, f"{URL}?status=discarded", key)
        assert [d["id"] for d in discarded["items"]] == [discarded_id]
        assert_problem(await client.get(f"{URL}?status=lost", headers=bearer(key)), 400, "bad-request")

    async def test_filtered_by_destination(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-1")
        outlet = await add_dead_letter(db, world.tenant_a1, seeded.a1_other, sku="SKU-2")
        page = await get_json(client, f"{URL}?destination={seeded.a1_other}", key)
        assert [d["id"] for d in page["items"]] == [outlet]
        assert page["items"][0]["destination_id"] == str(seeded.a1_other)

    async def test_other_tenant_sees_nothing(
        self, client: AsyncTestClient[Any], stranger: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        await add_dead_letter(db, world.tenant_a1, seeded.a1)
        assert (await get_json(client, URL, stranger))["items"] == []
        by_destination = await get_json(client, f"{URL}?destination={seeded.a1}", stranger)
        assert by_destination["items"] == []

    @pytest.mark.parametrize(
        "position",
        [
            "not-a-cursor",
            json.dumps(["2026-01-05T10:00:00+00:00", 2**63]),  # beyond BIGINT
            json.dumps(["2026-01-05T10:00:00", 3]),  # no offset
            json.dumps(["2026-01-05T10:00:00+00:00", str(uuid.UUID(int=3))]),  # a uuid cursor
        ],
    )
    async def test_malformed_cursor(self, client: AsyncTestClient[Any], key: str, position: str) -> None:
        cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
        problem = assert_problem(
            await client.get(f"{URL}?cursor={cursor}", headers=bearer(key)), 400, "invalid-cursor"
        )
        assert problem["errors"] == [{"path": "cursor", "reason": "malformed"}]


class TestGetDeadLetter:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.get(f"{URL}/1"), 401, "missing-api-key")

    async def test_missing_scope(self, client: AsyncTestClient[Any], world: World, db: Database) -> None:
        other = await factories.make_api_key(db, world.tenant_a1, ["stock:read"])
        assert_problem(await client.get(f"{URL}/1", headers=bearer(other)), 403, "missing-scope")

    async def test_shows_payload_error_attempts_and_correlation(
        self, client: AsyncTestClient[Any], reader: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-9")
        body = await get_json(client, f"{URL}/{dead_letter_id}", reader)
        assert body["payload"] == balance("SKU-9")
        assert body["error"] == "HTTP 500 from the webhook"
        assert body["attempts"] == 5
        assert body["correlation_id"] == "corr-SKU-9"
        assert body["destination_id"] == str(seeded.a1)
        assert body["entity_key"] == "SKU-9"
        assert body["record_type"] == "stock_balance"
        assert body["status"] == "open"
        assert body["created_at"]
        assert body["resolved_at"] is None

    async def test_other_tenant(
        self,
        client: AsyncTestClient[Any],
        stranger: str,
        key: str,
        world: World,
        db: Database,
        seeded: Seeded,
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        assert_problem(
            await client.get(f"{URL}/{dead_letter_id}", headers=bearer(stranger)), 404, "not-found"
        )
        assert_problem(await client.get(f"{URL}/{dead_letter_id + 1}", headers=bearer(key)), 404, "not-found")

    async def test_an_id_beyond_bigint_is_refused(self, client: AsyncTestClient[Any], key: str) -> None:
        response = await client.get(f"{URL}/{2**63}", headers=bearer(key))
        problem = assert_problem(response, 400, "bad-request")
        assert [e["path"] for e in problem["errors"]] == ["dead_letter_id"]  # type: ignore[attr-defined]


class TestReplayDeadLetter:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.post(f"{URL}/1/replay"), 401, "missing-api-key")

    async def test_missing_scope(
        self, client: AsyncTestClient[Any], reader: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        response = await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(reader))
        assert_problem(response, 403, "missing-scope")
        assert (await stored(db, dead_letter_id)).status == "open"

    async def test_other_tenant(
        self, client: AsyncTestClient[Any], stranger: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        response = await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(stranger))
        assert_problem(response, 404, "not-found")
        assert (await stored(db, dead_letter_id)).status == "open"
        assert await queued(db) == []

    async def test_queues_the_payload_now_as_urgent_and_audits(
        self,
        client: AsyncTestClient[Any],
        key: str,
        world: World,
        db: Database,
        seeded: Seeded,
        clock: FrozenClock,
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-7")
        response = await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(key))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "replayed"
        [row] = await queued(db)
        assert (row.tenant_id, row.destination_id) == (world.tenant_a1.id, seeded.a1)
        assert (row.entity_key, row.record_type, row.payload) == ("SKU-7", "stock_balance", balance("SKU-7"))
        assert (row.revision, row.is_urgent, row.due_at, row.attempts) == (1, True, clock.now(), 0)
        assert row.correlation_id == "corr-SKU-7"
        letter = await stored(db, dead_letter_id)
        assert (letter.status, letter.resolved_at) == ("replayed", clock.now())
        [entry] = await audit_of(db, dead_letter_id)
        assert entry.action == "dead_letter.replayed"
        assert entry.tenant_id == world.tenant_a1.id
        assert entry.actor_type == "api_key"
        assert entry.changes == {"status": {"before": "open", "after": "replayed"}}
        async with db.transaction(DbScope.system()) as session:
            nudge = await session.scalar(select(OutboxMessage).where(OutboxMessage.task == NUDGE_TASK))
        assert nudge is not None
        assert (nudge.payload, nudge.lane) == ({"destinations": [str(seeded.a1)]}, "urgent")

    async def test_a_newer_queued_value_goes_now_instead_of_the_old_one(
        self,
        client: AsyncTestClient[Any],
        key: str,
        world: World,
        db: Database,
        seeded: Seeded,
        clock: FrozenClock,
    ) -> None:
        async with db.transaction(DbScope.system()) as session:
            session.add(
                QueuedDelivery(
                    tenant_id=world.tenant_a1.id,
                    destination_id=seeded.a1,
                    entity_key="SKU-1",
                    record_type="stock_balance",
                    payload=balance("SKU-1", on_hand=40),
                    due_at=clock.now() + timedelta(minutes=5),
                )
            )
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-1")
        response = await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(key))
        assert response.status_code == 200, response.text
        [row] = await queued(db)
        assert row.payload == balance("SKU-1", on_hand=40)  # the newer value is kept, not undone
        assert (row.revision, row.is_urgent, row.due_at) == (1, True, clock.now())

    async def test_twice_is_a_conflict(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        assert (await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(key))).status_code == 200
        again = await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(key))
        problem = assert_problem(again, 409, "dead-letter-resolved")
        assert problem["current_status"] == "replayed"
        [row] = await queued(db)
        assert row.revision == 1
        assert len(await audit_of(db, dead_letter_id)) == 1

    async def test_a_discarded_one_cannot_be_replayed(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, status="discarded")
        response = await client.post(f"{URL}/{dead_letter_id}/replay", headers=bearer(key))
        assert "already discarded" in str(assert_problem(response, 409, "dead-letter-resolved")["detail"])
        assert await queued(db) == []

    async def test_an_edited_payload_is_queued_and_audited_before_and_after(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-1")
        fixed = balance("SKU-1", on_hand=12)
        response = await client.post(
            f"{URL}/{dead_letter_id}/replay", json={"payload": fixed}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        assert response.json()["payload"] == fixed
        [row] = await queued(db)
        assert row.payload == fixed
        assert (await stored(db, dead_letter_id)).payload == fixed
        [entry] = await audit_of(db, dead_letter_id)
        assert entry.changes["payload"] == {"before": balance("SKU-1"), "after": fixed}
        assert entry.changes["status"] == {"before": "open", "after": "replayed"}

    async def test_an_edited_payload_is_normalised_to_the_canonical_form(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-1")
        sparse = {"sku": "SKU-1", "location": "web", "on_hand": "12"}
        response = await client.post(
            f"{URL}/{dead_letter_id}/replay", json={"payload": sparse}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        [row] = await queued(db)
        assert row.payload == balance("SKU-1", on_hand=12)

    async def test_an_invalid_edited_payload_is_refused_with_its_path(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1, sku="SKU-1")
        broken = balance("SKU-1") | {"on_hand": "lots"}
        response = await client.post(
            f"{URL}/{dead_letter_id}/replay", json={"payload": broken}, headers=bearer(key)
        )
        problem = assert_problem(response, 422, "invalid-payload")
        errors: list[dict[str, str]] = problem["errors"]  # type: ignore[assignment]
        [error] = errors
        assert error["path"] == "payload.on_hand"
        assert "int" in error["reason"]
        assert await queued(db) == []
        assert (await stored(db, dead_letter_id)).status == "open"
        assert await audit_of(db, dead_letter_id) == []

    async def test_unknown_body_fields_are_refused(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        response = await client.post(
            f"{URL}/{dead_letter_id}/replay", json={"paylod": balance()}, headers=bearer(key)
        )
        assert_problem(response, 400, "bad-request")
        assert await queued(db) == []


class TestDiscardDeadLetter:
    async def test_anonymous(self, client: AsyncTestClient[Any]) -> None:
        assert_problem(await client.post(f"{URL}/1/discard"), 401, "missing-api-key")

    async def test_missing_scope(
        self, client: AsyncTestClient[Any], reader: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        response = await client.post(f"{URL}/{dead_letter_id}/discard", headers=bearer(reader))
        assert_problem(response, 403, "missing-scope")
        assert (await stored(db, dead_letter_id)).status == "open"

    async def test_other_tenant(
        self, client: AsyncTestClient[Any], stranger: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        response = await client.post(f"{URL}/{dead_letter_id}/discard", headers=bearer(stranger))
        assert_problem(response, 404, "not-found")
        assert (await stored(db, dead_letter_id)).status == "open"

    async def test_discards_without_queueing_and_audits(
        self,
        client: AsyncTestClient[Any],
        key: str,
        world: World,
        db: Database,
        seeded: Seeded,
        clock: FrozenClock,
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        response = await client.post(f"{URL}/{dead_letter_id}/discard", headers=bearer(key))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "discarded"
        letter = await stored(db, dead_letter_id)
        assert (letter.status, letter.resolved_at) == ("discarded", clock.now())
        assert await queued(db) == []
        [entry] = await audit_of(db, dead_letter_id)
        assert entry.action == "dead_letter.discarded"
        assert entry.changes == {"status": {"before": "open", "after": "discarded"}}
        assert (await get_json(client, URL, key))["items"] == []

    async def test_twice_is_a_conflict(
        self, client: AsyncTestClient[Any], key: str, world: World, db: Database, seeded: Seeded
    ) -> None:
        dead_letter_id = await add_dead_letter(db, world.tenant_a1, seeded.a1)
        assert (await client.post(f"{URL}/{dead_letter_id}/discard", headers=bearer(key))).status_code == 200
        again = await client.post(f"{URL}/{dead_letter_id}/discard", headers=bearer(key))
        assert_problem(again, 409, "dead-letter-resolved")
        assert len(await audit_of(db, dead_letter_id)) == 1
