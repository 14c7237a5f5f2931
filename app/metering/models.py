"""Usage events: one row per unit of counted work, unique by its idempotency key per tenant; and the
monthly totals kept when retention removes the events.

``usage_events`` is partitioned by month of ``occurred_at`` (see ``app.database.partitions``), so its
unique key must hold ``occurred_at``: (tenant, idempotency key, occurred at). That is as strong as
(tenant, key) because every writer's key either is new for each piece of work (a lease token, a random
id) or names the moment it counts (an API-call minute, whose row is written at that minute), so one
key never arrives with two different times.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base


class UsageEvent(Base):
    """``quantity`` of ``kind`` (records_synced, events_accepted, delivery_runs) at ``occurred_at``."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", "occurred_at"),
        Index("ix_usage_events_tenant_time", "tenant_id", "occurred_at"),
        {"postgresql_partition_by": "RANGE (occurred_at)"},
    )
    # the table's key is (id, occurred_at), as partitioning demands; id alone identifies a row
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class UsageTotal(Base):
    """What retention took out of ``usage_events`` for a tenant, month (``YYYY-MM``, UTC) and kind:
    the sum for the sum kinds, the largest sample for the connections gauge. A period's usage is its
    totals plus the events still stored."""

    __tablename__ = "usage_totals"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
