"""Rows for prices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Numeric, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base
from connectors.canonical import Price

EVER = datetime(1970, 1, 1, tzinfo=UTC)
"""``effective_from`` of a price with no start: in force from the beginning."""


class PriceEntry(Base):
    """A price of a SKU on a price list, for a channel/region scope ('' = any), from a moment on."""

    __tablename__ = "prices"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    price_list: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(128), primary_key=True)
    region: Mapped[str] = mapped_column(String(128), primary_key=True)
    effective_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    effective_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    compare_at: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def to_price(self) -> Price:
        """The canonical price this row stores (the column's padding zeros dropped: 19.990000 → 19.99)."""
        return Price(
            sku=self.sku,
            amount=plain(self.amount),
            currency=self.currency,
            price_list=self.price_list,
            channel=self.channel or None,
            region=self.region or None,
            compare_at=plain(self.compare_at) if self.compare_at is not None else None,
            effective_from=None if self.effective_from == EVER else self.effective_from,
            effective_to=self.effective_to,
            source_version=self.source_version,
        )


def plain(amount: Decimal) -> Decimal:
    """``amount`` without trailing zeros and without an exponent (10.000000 → 10, not 1E+1)."""
    return Decimal(format(amount.normalize(), "f"))
