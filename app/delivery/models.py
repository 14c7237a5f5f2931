"""Rows for queued deliveries (one per entity per destination, coalesced) and dead letters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base


class QueuedDelivery(Base):
    """The latest value of one entity (a SKU, a SKU's price) waiting for one destination.

    Newer values replace the payload and bump ``revision``; a delivery that finishes removes the row
    only if no newer value came meanwhile. ``due_at`` is now for urgent work, the end of the batch
    window otherwise, or a price's effective time.
    """

    __tablename__ = "delivery_queue"
    __table_args__ = (
        UniqueConstraint("destination_id", "entity_key"),
        # the claim's order (urgent first, then oldest due): a claim reads the head of its destination's
        # range instead of sorting every due row (a 250,000-price publish made that a sort per batch)
        Index(
            "ix_delivery_queue_claim",
            "destination_id",
            text("is_urgent DESC"),
            "due_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    destination_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flow_destinations.id", ondelete="CASCADE")
    )
    entity_key: Mapped[str] = mapped_column(String(400))
    record_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    is_urgent: Mapped[bool] = mapped_column(Boolean, server_default="false")
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(64))


class DeadLetter(Base):
    """A delivery given up on: the payload, why, after how many attempts; replayed or discarded by people."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_tenant_status", "tenant_id", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    destination_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flow_destinations.id", ondelete="CASCADE")
    )
    entity_key: Mapped[str] = mapped_column(String(400))
    record_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
