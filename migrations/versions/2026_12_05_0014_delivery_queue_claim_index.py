"""Delivery queue for big queues: an index in the claim's order (urgent first, then oldest due), and a
function that lets the application role refresh the queue's planner statistics after a bulk enqueue.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenants import rls

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A full run puts 250,000 rows in an empty queue in one transaction; until autovacuum analyzes the table
# (a minute later) the planner believes it is empty and sorts every due row on each claim. The app role
# owns no table, so ANALYZE runs as the owner, through this function only.
ANALYZE_FUNCTION = """
CREATE FUNCTION shelfsync_analyze_delivery_queue() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public
AS 'ANALYZE delivery_queue'
"""


def upgrade() -> None:
    op.drop_index("ix_delivery_queue_due", table_name="delivery_queue")
    op.create_index(
        "ix_delivery_queue_claim",
        "delivery_queue",
        ["destination_id", sa.text("is_urgent DESC"), "due_at", "id"],
    )
    op.execute(ANALYZE_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION shelfsync_analyze_delivery_queue() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION shelfsync_analyze_delivery_queue() TO {rls.APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION shelfsync_analyze_delivery_queue()")
    op.drop_index("ix_delivery_queue_claim", table_name="delivery_queue")
    op.create_index("ix_delivery_queue_due", "delivery_queue", ["destination_id", "due_at"])
