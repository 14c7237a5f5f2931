"""The catalogue walk: tables holding tenant rows come from PostgreSQL, partitioned ones by their parent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenant_data.catalogue import deletion_order, export_tables, tenant_tables
from app.tenant_data.models import TenantExport


async def test_a_new_table_is_found_and_a_partitioned_one_by_its_parent(owner: Any) -> None:
    async with owner.connect() as connection:
        transaction = await connection.begin()
        try:
            # made and dropped in this transaction only: the walk must find tables nobody listed
            for statement in (
                "CREATE TABLE later_feature (id bigint PRIMARY KEY, tenant_id uuid NOT NULL)",
                "CREATE TABLE movements_by_month (id bigint, tenant_id uuid, at date, PRIMARY KEY (id, at))"
                " PARTITION BY RANGE (at)",
                "CREATE TABLE movements_by_month_2026_12 PARTITION OF movements_by_month"
                " FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')",
            ):
                await connection.execute(text(statement))
            async with AsyncSession(bind=connection) as session:
                tables = {t.name: t for t in await tenant_tables(session)}
                exported = [t.name for t in await export_tables(session)]
                order = [t.name for t in await deletion_order(session, list(tables.values()))]
        finally:
            await transaction.rollback()
    assert "later_feature" in tables
    assert tables["movements_by_month"].primary_key == ("id", "at")
    assert "movements_by_month_2026_12" not in tables
    assert TenantExport.__tablename__ in tables
    assert {"alembic_version", "tenants", "users", "partners"}.isdisjoint(tables)
    assert exported[:2] == ["tenants", "users"]
    # children before parents: a flow goes before the connection it reads from (a RESTRICT key)
    assert order.index("flows") < order.index("connections")
    assert order.index("flow_destinations") < order.index("flows")
    assert order.index("promotion_deployments") < order.index("promotions")
