"""Rows for stock balances and movements."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Integer, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base


class StockLevel(Base):
    """The stored balance of one SKU at one location; ``available`` = on_hand − reserved − safety_stock."""

    __tablename__ = "stock_levels"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    location: Mapped[str] = mapped_column(String(128), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, server_default="0")
    reserved: Mapped[int] = mapped_column(Integer, server_default="0")
    safety_stock: Mapped[int] = mapped_column(Integer, server_default="0")
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.safety_stock, 0)


class StockMovementEntry(Base):
    """A movement as applied (sales, returns, receipts, adjustments, transfers), for audit and replay."""

    __tablename__ = "stock_movements"
    # monthly partitions (app.database.partitions); the key is (id, occurred_at) as partitioning demands
    __table_args__ = ({"postgresql_partition_by": "RANGE (occurred_at)"},)
    __mapper_args__ = {"primary_key": ["id"]}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(128))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )
