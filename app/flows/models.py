"""Rows for flows, their destinations and their runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk

FLOW_DOMAINS = ("items", "prices", "promotions", "inventory", "orders")
TRIGGERS = ("event", "schedule", "manual")
RUN_KINDS = ("full", "incremental", "event_batch", "reconcile", "delivery")
RUN_STATUSES = ("queued", "running", "succeeded", "partial", "failed")


class Flow(Base):
    """What moves where: records of one domain from a source (the API, or a connection) to destinations."""

    __tablename__ = "flows"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint(f"domain IN {FLOW_DOMAINS}", name="domain"),
        CheckConstraint(f"trigger IN {TRIGGERS}", name="trigger"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    domain: Mapped[str] = mapped_column(String(32))
    source_connection_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="RESTRICT")
    )
    """None: records arrive through ``/api/v1/events``; else pulled from or pushed by this connection."""
    source_recipe_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("recipes.id", ondelete="RESTRICT")
    )
    trigger: Mapped[str] = mapped_column(String(16), server_default="event")
    schedule: Mapped[str | None] = mapped_column(String(100))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    cursor: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When a scheduled flow reads its source next."""
    is_enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FlowDestination(Base):
    """One destination of a flow: a connection, the outbound recipe that shapes its payloads, and how
    much stock it may sell (allocation)."""

    __tablename__ = "flow_destinations"
    __table_args__ = (UniqueConstraint("flow_id", "connection_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flows.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="RESTRICT")
    )
    recipe_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("recipes.id", ondelete="RESTRICT")
    )
    recipe_version: Mapped[int | None] = mapped_column(Integer)
    """Pinned version; None follows the recipe's latest version."""
    allocation: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    position: Mapped[int] = mapped_column(Integer, server_default="0")


class Run(Base):
    """One piece of work a flow did: counts, cursor, timings, outcome and correlation id."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(f"kind IN {RUN_KINDS}", name="kind"),
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        Index("ix_runs_flow_started", "flow_id", "started_at"),
        # monthly partitions (app.database.partitions): a day's dashboard reads only this month's
        {"postgresql_partition_by": "RANGE (started_at)"},
    )
    # the table's key is (id, started_at), as partitioning demands; the id alone identifies a run (no
    # foreign key points at runs, and ids are random UUIDs), so the ORM keeps looking runs up by id
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("flows.id", ondelete="CASCADE"))
    destination_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flow_destinations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    read_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    written_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cursor: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    """Kind-specific facts, e.g. a reconciliation's ``{"drift": [{sku, destination, expected, found}]}``."""
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @classmethod
    def begin(
        cls,
        *,
        tenant_id: uuid.UUID,
        flow_id: uuid.UUID,
        kind: str,
        started_at: datetime,
        correlation_id: str | None = None,
        destination_id: uuid.UUID | None = None,
        status: str = "running",
        read_count: int = 0,
    ) -> Run:
        """A new run with its counters at zero, ready to be counted into before it is stored."""
        return cls(
            tenant_id=tenant_id,
            flow_id=flow_id,
            destination_id=destination_id,
            kind=kind,
            status=status,
            read_count=read_count,
            written_count=0,
            skipped_count=0,
            failed_count=0,
            errors=[],
            details={},
            correlation_id=correlation_id,
            started_at=started_at,
        )
