"""Models and migrations agree, and the migrations run both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from app.database import migrations
from app.database.engine import owner_engine
from app.database.models import metadata
from app.database.partitions import is_partition_name
from app.settings import Settings


async def _diff(settings: Settings) -> list[Any]:
    engine = owner_engine(settings)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    # the monthly partitions are made at run time, not by the models (see
                    # app.database.partitions); the partitioned parents are compared like any table
                    MigrationContext.configure(
                        sync, opts={"compare_type": True, "include_name": _not_a_partition}
                    ),
                    metadata,
                )
            )
    finally:
        await engine.dispose()


def _not_a_partition(name: str | None, type_: str, _parent: object) -> bool:
    return not (type_ == "table" and is_partition_name(name))


async def _tables(settings: Settings) -> set[str]:
    engine = owner_engine(settings)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return set(rows.scalars())
    finally:
        await engine.dispose()


def test_autogenerate_finds_no_difference(scratch_db: Callable[[str], Settings]) -> None:
    scratch = scratch_db("autogen")
    migrations.upgrade(scratch)
    assert asyncio.run(_diff(scratch)) == []


def test_upgrade_downgrade_upgrade(scratch_db: Callable[[str], Settings]) -> None:
    scratch = scratch_db("roundtrip")
    migrations.upgrade(scratch)
    head = migrations.head_revision(scratch)
    assert migrations.current_revision(scratch) == head
    assert {
        "partners",
        "tenants",
        "users",
        "memberships",
        "api_keys",
        "audit_log",
        "outbox",
    } <= asyncio.run(_tables(scratch))
    migrations.downgrade(scratch, "base")
    assert migrations.current_revision(scratch) is None
    assert asyncio.run(_tables(scratch)) == {"alembic_version"}
    migrations.upgrade(scratch)
    assert migrations.current_revision(scratch) == head
