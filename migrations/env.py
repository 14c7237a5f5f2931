"""Alembic environment: async engine as the schema owner, one transaction per revision."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.database.engine import owner_engine
from app.database.models import metadata
from app.database.partitions import is_partition_name
from app.settings import Settings

config = context.config


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    """Monthly partitions are created at run time (app.database.partitions), not by the models:
    autogenerate must neither drop them nor count them as differences."""
    return not (type_ == "table" and is_partition_name(name))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        transaction_per_migration=True,
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(settings: Settings) -> None:
    engine = owner_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `shelfsync db upgrade`")

connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_async(config.attributes["settings"]))
