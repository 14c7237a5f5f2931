"""Tenant exports (progress and file of each export; RLS), tenants may be `deleting`, and a function that
erases a deleting tenant's audit rows (the app role may only read and add to the audit log).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenants import rls

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit log stays append-only for the app role; the one exception is erasing a deleted tenant's
# history, done by the owner through this function, only for a tenant already marked `deleting` and only
# from the system scope (Shelfsync's own deletion job). The deletion itself is audited at partner level.
ERASE_AUDIT_FUNCTION = """
CREATE FUNCTION shelfsync_erase_tenant_audit(target uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
AS $$
DECLARE
    erased bigint;
BEGIN
    IF coalesce(current_setting('app.scope', true), '') <> 'system' THEN
        RAISE EXCEPTION 'only the system scope erases audit rows';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = target AND status = 'deleting') THEN
        RAISE EXCEPTION 'tenant % is not being deleted', target;
    END IF;
    DELETE FROM audit_log WHERE tenant_id = target;
    GET DIAGNOSTICS erased = ROW_COUNT;
    RETURN erased;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "tenant_exports",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("tables_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tables_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("file_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_tenant_exports_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_exports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_exports")),
    )
    op.create_index(op.f("ix_tenant_exports_tenant_id"), "tenant_exports", ["tenant_id"], unique=False)
    op.drop_constraint(op.f("ck_tenants_status_known"), "tenants", type_="check")
    op.create_check_constraint(
        op.f("ck_tenants_status_known"), "tenants", "status IN ('active', 'suspended', 'deleting')"
    )
    statements = [
        *rls.grant_app_role("tenant_exports"),
        *rls.tenant_owned("tenant_exports"),
        ERASE_AUDIT_FUNCTION,
        "REVOKE ALL ON FUNCTION shelfsync_erase_tenant_audit(uuid) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION shelfsync_erase_tenant_audit(uuid) TO {rls.APP_ROLE}",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP FUNCTION shelfsync_erase_tenant_audit(uuid)")
    op.drop_constraint(op.f("ck_tenants_status_known"), "tenants", type_="check")
    # a tenant still being deleted cannot be described by the old constraint: it is suspended instead
    op.execute("UPDATE tenants SET status = 'suspended' WHERE status = 'deleting'")
    op.create_check_constraint(
        op.f("ck_tenants_status_known"), "tenants", "status IN ('active', 'suspended')"
    )
    op.drop_index(op.f("ix_tenant_exports_tenant_id"), table_name="tenant_exports")
    op.drop_table("tenant_exports")
