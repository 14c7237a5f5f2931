"""Quota notices: a retailer reached a plan quota's soft or hard limit in a month (once per quota, level
and month); RLS.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenants import rls

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quota_notices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("quota", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_quota_notices_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_notices")),
        sa.UniqueConstraint(
            "tenant_id",
            "quota",
            "period",
            "level",
            name=op.f("uq_quota_notices_tenant_id_quota_period_level"),
        ),
    )
    for statement in [*rls.grant_app_role("quota_notices"), *rls.tenant_owned("quota_notices")]:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("quota_notices")
