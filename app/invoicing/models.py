"""Issued retailer invoices: one per retailer and closed period, frozen when issued."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, uuid_pk


class RetailerInvoice(Base):
    """``lines``, ``usage`` and ``sla`` keep what the totals were computed from, as they were at issue."""

    __tablename__ = "retailer_invoices"
    __table_args__ = (UniqueConstraint("tenant_id", "period"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    period: Mapped[str] = mapped_column(String(7))
    plan: Mapped[str] = mapped_column(String(63))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    credit: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    usage: Mapped[dict[str, int]] = mapped_column(JSONB)
    sla: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
