"""Rows for items."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base


class ItemEntry(Base):
    __tablename__ = "items"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    gtin: Mapped[str | None] = mapped_column(String(14))
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    cost_currency: Mapped[str | None] = mapped_column(String(3))
    is_sellable: Mapped[bool] = mapped_column(Boolean, server_default="true")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
