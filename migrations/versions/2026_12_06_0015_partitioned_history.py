"""High-volume history partitioned by month: ingress_events, stock_movements, runs and usage_events become
range-partitioned tables (existing rows copied over); ingress_event_keys keeps the events' dedup key
unique across months; usage_totals keeps billing figures after retention removes usage events; two
SECURITY DEFINER functions let the application role create partitions ahead and drop old ones.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op

from tenants import rls

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_BACK = 12
MONTHS_AHEAD = 3

# Partitions are created in UTC calendar months, named <table>_YYYY_MM, owned by the schema owner (the
# function's definer). Month arithmetic is done on UTC wall-clock timestamps: adding a month to a
# timestamptz would follow the session's time zone. An advisory lock serialises concurrent callers
# (two workers' cron jobs, a migration) so neither fails on the other's CREATE.
ENSURE_FUNCTION = """
CREATE FUNCTION shelfsync_ensure_partitions(at timestamptz, months_ahead integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET timezone = 'UTC'
AS $$
DECLARE
    parent text;
    first_month timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    low timestamp;
    partition text;
    made integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 600 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 600, not %', months_ahead;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('shelfsync_partitions'));
    FOREACH parent IN ARRAY ARRAY['ingress_events', 'stock_movements', 'runs', 'usage_events'] LOOP
        FOR step IN 0..months_ahead LOOP
            low := first_month + make_interval(months => step);
            partition := parent || '_' || to_char(low, 'YYYY_MM');
            IF to_regclass(partition) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    partition, parent, low AT TIME ZONE 'UTC',
                    (low + interval '1 month') AT TIME ZONE 'UTC'
                );
                -- the app role has no grant on a partition, so it can only go through the parent and
                -- its policies; RLS on the partition too, should anyone grant one by hand
                EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', partition);
                made := made + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$
"""

DROP_FUNCTION = """
CREATE FUNCTION shelfsync_drop_partitions_before(parent text, before timestamptz) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET timezone = 'UTC'
AS $$
DECLARE
    found record;
BEGIN
    IF parent IS NULL OR parent NOT IN ('ingress_events', 'stock_movements', 'runs', 'usage_events') THEN
        RAISE EXCEPTION 'not a partitioned table: %', parent;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('shelfsync_partitions'));
    FOR found IN
        SELECT c.relname AS name,
               substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz AS high
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent::regclass
    LOOP
        IF found.high <= before THEN
            EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, found.name);
            EXECUTE format('DROP TABLE %I', found.name);
            RETURN NEXT found.name;
        END IF;
    END LOOP;
END
$$
"""

FUNCTIONS = (
    "shelfsync_ensure_partitions(timestamptz, integer)",
    "shelfsync_drop_partitions_before(text, timestamptz)",
)


@dataclass(frozen=True)
class History:
    """A table turned partitioned: its time column, the indexes it has besides the key, and its
    foreign keys (all re-created on the new table under the same names)."""

    table: str
    column: str
    identity: bool
    old_indexes: tuple[str, ...]
    indexes: tuple[tuple[str, str, bool], ...]
    """(name, column list, unique) on the partitioned table."""
    plain_indexes: tuple[tuple[str, str, bool], ...]
    """(name, column list, unique) on the table as it was before this revision."""
    foreign_keys: tuple[tuple[str, str, str], ...]
    """(name, column, referenced table(column))."""


HISTORY = (
    History(
        "ingress_events",
        "received_at",
        True,
        ("pk_ingress_events", "ix_ingress_events_tenant_id", "uq_ingress_events_tenant_id_domain_dedup_key"),
        (("ix_ingress_events_tenant_id", "tenant_id", False),),
        (
            ("ix_ingress_events_tenant_id", "tenant_id", False),
            ("uq_ingress_events_tenant_id_domain_dedup_key", "tenant_id, domain, dedup_key", True),
        ),
        (("fk_ingress_events_tenant_id_tenants", "tenant_id", "tenants(id)"),),
    ),
    History(
        "stock_movements",
        "occurred_at",
        True,
        ("pk_stock_movements", "ix_stock_movements_tenant_id"),
        (("ix_stock_movements_tenant_id", "tenant_id", False),),
        (("ix_stock_movements_tenant_id", "tenant_id", False),),
        (("fk_stock_movements_tenant_id_tenants", "tenant_id", "tenants(id)"),),
    ),
    History(
        "runs",
        "started_at",
        False,
        ("pk_runs", "ix_runs_flow_started", "ix_runs_tenant_id"),
        (("ix_runs_flow_started", "flow_id, started_at", False), ("ix_runs_tenant_id", "tenant_id", False)),
        (("ix_runs_flow_started", "flow_id, started_at", False), ("ix_runs_tenant_id", "tenant_id", False)),
        (
            ("fk_runs_destination_id_flow_destinations", "destination_id", "flow_destinations(id)"),
            ("fk_runs_flow_id_flows", "flow_id", "flows(id)"),
            ("fk_runs_tenant_id_tenants", "tenant_id", "tenants(id)"),
        ),
    ),
    History(
        "usage_events",
        "occurred_at",
        True,
        ("pk_usage_events", "ix_usage_events_tenant_time", "uq_usage_events_tenant_id_idempotency_key"),
        (
            ("ix_usage_events_tenant_time", "tenant_id, occurred_at", False),
            (
                "uq_usage_events_tenant_id_idempotency_key_occurred_at",
                "tenant_id, idempotency_key, occurred_at",
                True,
            ),
        ),
        (
            ("ix_usage_events_tenant_time", "tenant_id, occurred_at", False),
            ("uq_usage_events_tenant_id_idempotency_key", "tenant_id, idempotency_key", True),
        ),
        (("fk_usage_events_tenant_id_tenants", "tenant_id", "tenants(id)"),),
    ),
)


def _set_aside(history: History, *, partitioned: bool) -> None:
    """Rename ``history.table`` aside (its index names too, which are schema-wide) and make a new, empty
    table like it under the old name, partitioned by month or plain, with its keys and indexes."""
    table, column = history.table, history.column
    op.execute(f"ALTER TABLE {table} RENAME TO {_aside(table)}")
    for index in history.old_indexes if partitioned else _current_indexes(history):
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_old")
    tail = f" PARTITION BY RANGE ({column})" if partitioned else ""
    op.execute(
        f"CREATE TABLE {table} (LIKE {_aside(table)} INCLUDING DEFAULTS INCLUDING IDENTITY"
        f" INCLUDING CONSTRAINTS){tail}"
    )
    key = f"id, {column}" if partitioned else "id"
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
    for name, columns, unique in history.indexes if partitioned else history.plain_indexes:
        if unique:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns})")
        else:
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    for name, local, remote in history.foreign_keys:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({local}) REFERENCES {remote}"
            " ON DELETE CASCADE"
        )


def _move_rows(history: History) -> None:
    """Copy the rows over, move the identity past the copied ids, drop the old table, and give the new
    one the app role's grant and the tenant policies (RLS is checked on the table a query names)."""
    table = history.table
    op.execute(f"INSERT INTO {table} SELECT * FROM {_aside(table)}")
    if history.identity:
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false)"
            f" FROM {table}"
        )
    op.execute(f"DROP TABLE {_aside(table)}")
    for statement in [*rls.grant_app_role(table), *rls.tenant_owned(table)]:
        op.execute(statement)


def _aside(table: str) -> str:
    return f"{table}_before_0015"


def _create_partitions() -> None:
    """Every month holding a row to copy, from a year back (or the oldest row) to three months ahead."""
    oldest = " UNION ALL ".join(f"SELECT min({h.column}) AS at FROM {_aside(h.table)}" for h in HISTORY)
    op.execute(
        "SELECT shelfsync_ensure_partitions(span.start, (12 * (extract(year FROM utc.ahead)"
        " - extract(year FROM utc.start)) + extract(month FROM utc.ahead) - extract(month FROM utc.start))::integer)"
        f" FROM (SELECT least(min(at), now() - interval '{MONTHS_BACK} months') AS start,"
        f" now() + interval '{MONTHS_AHEAD} months' AS ahead FROM ({oldest}) AS oldest) AS span,"
        " LATERAL (SELECT span.start AT TIME ZONE 'UTC' AS start, span.ahead AT TIME ZONE 'UTC' AS ahead) AS utc"
    )


def _current_indexes(history: History) -> tuple[str, ...]:
    """The partitioned table's own index names (those of the partitions follow it)."""
    names = [f"pk_{history.table}", *(name for name, _, _ in history.indexes)]
    return tuple(names)


def upgrade() -> None:
    op.execute(ENSURE_FUNCTION)
    op.execute(DROP_FUNCTION)
    for function in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {rls.APP_ROLE}")
    for history in HISTORY:
        _set_aside(history, partitioned=True)
    _create_partitions()
    for history in HISTORY:
        _move_rows(history)

    op.create_table(
        "ingress_event_keys",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("domain", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ingress_event_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "domain", "dedup_key", name=op.f("pk_ingress_event_keys")),
    )
    op.create_index("ix_ingress_event_keys_received_at", "ingress_event_keys", ["received_at"], unique=False)
    op.execute(
        "INSERT INTO ingress_event_keys (tenant_id, domain, dedup_key, received_at)"
        " SELECT tenant_id, domain, dedup_key, min(received_at) FROM ingress_events"
        " GROUP BY tenant_id, domain, dedup_key"
    )
    op.create_table(
        "usage_totals",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_usage_totals_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "period", "kind", name=op.f("pk_usage_totals")),
    )
    for statement in [
        *rls.grant_app_role("ingress_event_keys"),
        *rls.tenant_owned("ingress_event_keys"),
        *rls.grant_app_role("usage_totals"),
        *rls.tenant_owned("usage_totals"),
    ]:
        op.execute(statement)


def downgrade() -> None:
    # rolled-up usage totals are lost: their events are gone, the plain usage_events cannot hold them
    op.drop_table("usage_totals")
    op.drop_index("ix_ingress_event_keys_received_at", table_name="ingress_event_keys")
    op.drop_table("ingress_event_keys")
    for history in reversed(HISTORY):
        _set_aside(history, partitioned=False)
        _move_rows(history)
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
