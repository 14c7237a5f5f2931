"""Rows for accepted events (one per dedup key) and for Idempotency-Key answers.

``ingress_events`` is partitioned by month of ``received_at`` (see ``app.database.partitions``); a
unique constraint there would have to include ``received_at`` and so could not keep a dedup key once
across months. ``ingress_event_keys`` (not partitioned) carries that uniqueness instead: ingest writes
the key first in the same transaction and stores the event only when the key was new. Keys are
deleted with their events by retention, so dedup holds within the retention window.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base


class IngressEvent(Base):
    """An accepted event: the canonical record as received, and what became of it."""

    __tablename__ = "ingress_events"
    __table_args__ = ({"postgresql_partition_by": "RANGE (received_at)"},)
    # the table's key is (id, received_at), as partitioning demands; id alone identifies a row for the ORM
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(200))
    record_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    outcome: Mapped[str] = mapped_column(String(16))
    """``applied``, or ``stale`` when an older ``source_version`` than the stored one arrived."""
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )


class IngressEventKey(Base):
    """An accepted event's dedup key, once per tenant and stream across all months of events."""

    __tablename__ = "ingress_event_keys"
    __table_args__ = (Index("ix_ingress_event_keys_received_at", "received_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotentResponse(Base):
    """The answer given to a POST with an ``Idempotency-Key``: replayed for the same body, 409 otherwise."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
