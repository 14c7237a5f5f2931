"""Monthly range partitions of the high-volume tables: their names and bounds, creating them ahead,
listing them, and detaching and dropping whole old ones.

The tables are partitioned by time (``PARTITIONED``: table → partition column) into calendar months in
UTC, named ``<table>_YYYY_MM``. There is no DEFAULT partition (it would defeat pruning and block
creating new partitions), so partitions must exist before rows arrive: migration 0015 creates them from a
year back through ``MONTHS_AHEAD`` months ahead, and the ``ensure_partitions`` cron job keeps
``MONTHS_AHEAD`` months ahead of the clock.

The application role owns no table, so creating and dropping partitions goes through two SECURITY
DEFINER functions of migration 0015 (``shelfsync_ensure_partitions``, ``shelfsync_drop_partitions_before``)
that accept only the tables listed here. The app role has no grant on the partitions themselves: it
reads and writes through the parents, whose row-level security policies apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PARTITIONED: dict[str, str] = {
    "ingress_events": "received_at",
    "stock_movements": "occurred_at",
    "runs": "started_at",
    "usage_events": "occurred_at",
}
"""Partitioned table → the time column it is partitioned by (monthly ranges)."""

MONTHS_AHEAD = 3
"""How many months beyond the current one always have partitions."""


_PARTITION_NAME = re.compile(rf"^({'|'.join(PARTITIONED)})_\d{{4}}_\d{{2}}$")


def is_partition_name(name: str | None) -> bool:
    """Whether a table name is one of our monthly partitions (they are made at run time, not by the
    models, so schema comparisons leave them out)."""
    return name is not None and _PARTITION_NAME.match(name) is not None


@dataclass(frozen=True, slots=True)
class Partition:
    """One month's partition of a table: rows with ``starts_at <= time < ends_at``."""

    name: str
    starts_at: datetime
    ends_at: datetime


def month_start(at: datetime) -> datetime:
    """The first instant (UTC) of the month ``at`` falls in."""
    utc = at.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def add_months(start: datetime, months: int) -> datetime:
    """``start`` (a month's first instant) moved by ``months`` whole months."""
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, at: datetime) -> str:
    """The name of ``table``'s partition holding time ``at``, e.g. ``usage_events_2026_12``."""
    assert table in PARTITIONED, table
    start = month_start(at)
    return f"{table}_{start.year:04d}_{start.month:02d}"


async def ensure_partitions(session: AsyncSession, at: datetime, months_ahead: int = MONTHS_AHEAD) -> int:
    """Create the missing partitions of every partitioned table for the month of ``at`` and the
    ``months_ahead`` after it; the number created (0 when all were there: safe to repeat)."""
    made = await session.scalar(
        text("SELECT shelfsync_ensure_partitions(:at, :ahead)"), {"at": at, "ahead": months_ahead}
    )
    return int(made or 0)


_LIST = text(
    """
    SELECT c.relname AS name,
           substring(bound FROM 'FROM \\(''([^'']+)''\\)')::timestamptz AS starts_at,
           substring(bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz AS ends_at
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid,
    LATERAL pg_get_expr(c.relpartbound, c.oid) AS bound
    WHERE i.inhparent = CAST(:table AS regclass)
    ORDER BY starts_at
    """
)
"""A table's partitions with their bounds, read from the catalog (the literals carry their offset)."""


async def list_partitions(session: AsyncSession, table: str) -> list[Partition]:
    """``table``'s partitions, oldest first."""
    assert table in PARTITIONED, table
    rows = await session.execute(_LIST, {"table": table})
    return [Partition(row.name, row.starts_at, row.ends_at) for row in rows]


async def drop_partitions_before(session: AsyncSession, table: str, before: datetime) -> list[str]:
    """Detach and drop every partition of ``table`` whose months end at or before ``before`` (rows
    wholly older than it); the names dropped. Callers keep what must outlive the rows first (usage
    totals)."""
    assert table in PARTITIONED, table
    rows = await session.scalars(
        text("SELECT shelfsync_drop_partitions_before(:table, :before)"), {"table": table, "before": before}
    )
    return list(rows)
