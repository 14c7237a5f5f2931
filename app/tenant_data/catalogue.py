"""Which tables hold a tenant's rows, read from PostgreSQL's catalogue rather than a hand-kept list, so a
table added later is exported and deleted without anyone remembering to list it.

A tenant owns: every row of a table in the public schema with a ``tenant_id`` column (partitioned parents
stand for their partitions), its own ``tenants`` row, and the users reachable only through its memberships
(a user who also belongs elsewhere keeps the account; only the membership goes).
"""

from __future__ import annotations

import graphlib
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Credentials are no data of the retailer's: a password hash or a key digest leaves with no export.
REDACTED_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {("users", "password_hash"), ("api_keys", "secret_hash")}
)

_TENANT_TABLES = text(
    """
    SELECT c.relname AS name,
           array_agg(a.attname::text ORDER BY a.attnum) AS columns,
           coalesce((SELECT array_agg(k.attname::text ORDER BY k.attnum)
                     FROM pg_index i
                     JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY (i.indkey)
                     WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS primary_key
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public'
      AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
      AND c.relname NOT IN ('alembic_version', 'tenants', 'users')
      AND EXISTS (SELECT 1 FROM pg_attribute t
                  WHERE t.attrelid = c.oid AND t.attname = 'tenant_id' AND NOT t.attisdropped)
    GROUP BY c.oid, c.relname
    ORDER BY c.relname
    """
)

_COLUMNS = text(
    """
    SELECT array_agg(a.attname::text ORDER BY a.attnum)
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(:table) AND a.attnum > 0 AND NOT a.attisdropped
    """
)

# Foreign keys between tables (partitions' own copies left out): a child must be emptied before its parent
# when the key is RESTRICT or NO ACTION, and emptying children first is never wrong for CASCADE keys.
_REFERENCES = text(
    """
    SELECT child.relname AS child, parent.relname AS parent
    FROM pg_constraint f
    JOIN pg_class child ON child.oid = f.conrelid
    JOIN pg_class parent ON parent.oid = f.confrelid
    JOIN pg_namespace n ON n.oid = child.relnamespace
    WHERE f.contype = 'f' AND n.nspname = 'public' AND NOT child.relispartition AND NOT parent.relispartition
    """
)


def quote(name: str) -> str:
    """A catalogue name as a quoted SQL identifier (names come from pg_class, never from a request)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class TenantTable:
    """One table holding tenant rows: how to select them and which columns leave in an export."""

    name: str
    columns: tuple[str, ...]
    owner_condition: str
    """SQL condition (parameter ``:tenant``) true for the tenant's rows."""
    primary_key: tuple[str, ...] = ()

    @property
    def exported_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if (self.name, c) not in REDACTED_COLUMNS)

    # The statements below are built from catalogue names, quoted, and a fixed condition: the tenant
    # itself is always a bound parameter.

    def select_sql(self) -> str:
        columns = ", ".join(quote(c) for c in self.exported_columns)
        return f"SELECT {columns} FROM {quote(self.name)} WHERE {self.owner_condition}"  # noqa: S608

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {quote(self.name)} WHERE {self.owner_condition}"  # noqa: S608

    def delete_sql(self) -> str:
        """Delete the tenant's rows: at most ``:limit`` of them when the table has a primary key."""
        name = quote(self.name)
        if not self.primary_key:
            return f"DELETE FROM {name} WHERE {self.owner_condition}"  # noqa: S608
        key = ", ".join(quote(c) for c in self.primary_key)
        return (
            f"DELETE FROM {name} WHERE ({key}) IN"  # noqa: S608
            f" (SELECT {key} FROM {name} WHERE {self.owner_condition} LIMIT :limit)"
        )

    def delete_all_sql(self) -> str:
        return f"DELETE FROM {quote(self.name)} WHERE {self.owner_condition}"  # noqa: S608


USERS_CONDITION = "id IN (SELECT user_id FROM memberships WHERE tenant_id = :tenant)"


async def tenant_tables(session: AsyncSession) -> list[TenantTable]:
    """Every table with a ``tenant_id`` column (alphabetical), parents only, from the catalogue."""
    rows = (await session.execute(_TENANT_TABLES)).all()
    return [
        TenantTable(row.name, tuple(row.columns), "tenant_id = :tenant", tuple(row.primary_key))
        for row in rows
    ]


async def _owned_through(session: AsyncSession, table: str, condition: str) -> TenantTable:
    columns = await session.scalar(_COLUMNS, {"table": f"public.{table}"})
    return TenantTable(table, tuple(columns or ()), condition, ("id",))


async def export_tables(session: AsyncSession) -> list[TenantTable]:
    """What an export writes: the tenant's own row, the users of its memberships, then every tenant table.

    Users who also belong elsewhere are exported too (the retailer sees them on its users page); deletion
    keeps their accounts."""
    return [
        await _owned_through(session, "tenants", "id = :tenant"),
        await _owned_through(session, "users", USERS_CONDITION),
        *await tenant_tables(session),
    ]


async def deletion_order(session: AsyncSession, tables: list[TenantTable]) -> list[TenantTable]:
    """``tables`` ordered children before parents by their foreign keys (cycles keep catalogue order)."""
    names = {t.name for t in tables}
    graph: dict[str, set[str]] = {t.name: set() for t in tables}
    for row in (await session.execute(_REFERENCES)).all():
        if row.child in names and row.parent in names and row.child != row.parent:
            # the parent waits for its children: graphlib yields a node after its predecessors
            graph[row.parent].add(row.child)
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        order = sorted(names)
    by_name = {t.name: t for t in tables}
    return [by_name[name] for name in order]


async def rows_of_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """How many rows of the tenant each table holds (the tenant row and its member users included)."""
    counts: dict[str, int] = {}
    for table in await export_tables(session):
        counts[table.name] = int(await session.scalar(text(table.count_sql()), {"tenant": tenant_id}) or 0)
    return counts
