"""Exporting a tenant: every row of it in the zip, none of anyone else's, read in chunks."""

from __future__ import annotations

import dataclasses
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import select

from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.models import OutboxMessage
from app.settings import Settings
from app.tenant_data.export import EXPORT_TASK, export_file, request_export, write_export
from app.tenant_data.jobs import export_tenant
from app.tenant_data.models import TenantExport
from tenants.audit import Actor, AuditEntry
from tests.app.tenant_data.conftest import job_ctx, seed_world, tenant_rows
from tests.factories import World


def _lines(archive: zipfile.ZipFile, member: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in archive.read(member).splitlines()]


async def _request(db: Database, tenant_id: uuid.UUID) -> tuple[uuid.UUID, int]:
    async with db.transaction(DbScope.for_tenant(tenant_id)) as session:
        export = await request_export(
            session, Actor("user", "someone"), tenant_id=tenant_id, requested_by=None
        )
        outbox_id = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.task == EXPORT_TASK))
    assert outbox_id is not None
    return export.id, outbox_id


class TestExportJob:
    async def test_every_row_of_the_tenant_and_nothing_else(
        self,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        owner: Any,
        redis: Redis,
        settings: Settings,
        clock: FrozenClock,
        tmp_path: Path,
    ) -> None:
        seeded = await seed_world(client, world, db, clock)
        tenant_id = seeded["a1"].tenant_id
        export_id, outbox_id = await _request(db, tenant_id)
        local = dataclasses.replace(settings, data_dir=tmp_path)

        outcome = await export_tenant(job_ctx(local, db, redis, clock), outbox_id)

        assert outcome.startswith("exported")
        async with db.transaction(DbScope.system()) as session:
            export = await session.get(TenantExport, export_id)
        assert export is not None
        assert export.status == "done"
        path = export_file(local, export)
        assert path is not None
        assert path.is_relative_to(tmp_path)
        expected = await tenant_rows(owner, tenant_id)
        # the walk found the tenant's tables from the catalogue, not a list: the seed reached many of them
        assert {n for n, c in expected.items() if c} >= {
            "tenants", "users", "memberships", "api_keys", "audit_log", "outbox", "connections",
            "recipes", "recipe_versions", "flows", "flow_destinations", "ingress_events",
            "stock_levels", "idempotent_responses", "delivery_queue", "runs", "dead_letters",
            "usage_events", "tenant_exports",
        }  # fmt: skip
        others = {str(s.tenant_id) for name, s in seeded.items() if name != "a1"}
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
            assert members == {f"{name}.jsonl" for name in expected} | {"manifest.json"}
            for name, count in expected.items():
                lines = _lines(archive, f"{name}.jsonl")
                assert len(lines) == count, name
                for line in lines:
                    if "tenant_id" in line:
                        assert line["tenant_id"] == str(tenant_id), name
                    assert not others & {str(v) for v in line.values()}, name
            manifest = json.loads(archive.read("manifest.json"))
            assert manifest["tables"] == expected
            users = _lines(archive, "users.jsonl")
            assert {u["email"] for u in users} == {"admin@a1.example", "viewer@a1.example"}
            assert all("password_hash" not in u for u in users)
            assert all("secret_hash" not in k for k in _lines(archive, "api_keys.jsonl"))
            stock = _lines(archive, "stock_levels.jsonl")
            assert isinstance(stock[0]["updated_at"], str)
            assert "T" in stock[0]["updated_at"]
        assert (export.tables_done, export.tables_total) == (len(expected), len(expected))
        assert export.rows_written == export.rows_total == sum(expected.values())

    async def test_a_table_longer_than_a_chunk_is_read_in_chunks(
        self,
        client: AsyncTestClient[Any],
        world: World,
        db: Database,
        owner: Any,
        settings: Settings,
        clock: FrozenClock,
        tmp_path: Path,
    ) -> None:
        seeded = await seed_world(client, world, db, clock)
        tenant_id = seeded["a1"].tenant_id
        export_id, _ = await _request(db, tenant_id)
        local = dataclasses.replace(settings, data_dir=tmp_path)

        report = await write_export(db, local, clock, export_id, chunk_rows=4)

        expected = await tenant_rows(owner, tenant_id)
        assert expected["stock_levels"] == 25 > 4
        assert report.rows == expected
        with zipfile.ZipFile(report.path) as archive:
            skus = sorted(line["sku"] for line in _lines(archive, "stock_levels.jsonl"))
        assert skus == [f"SKU-{n:03}" for n in range(25)]

    async def test_the_export_is_audited_with_who_asked(self, world: World, db: Database) -> None:
        export_id, _ = await _request(db, world.tenant_a1.id)
        async with db.transaction(DbScope.system()) as session:
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "tenant.export_requested")
            )
        assert entry is not None
        assert (entry.tenant_id, entry.target_id, entry.actor_id) == (
            world.tenant_a1.id,
            str(export_id),
            "someone",
        )
