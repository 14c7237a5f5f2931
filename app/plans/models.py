"""Plans a partner defines; a retailer's ``tenants.plan`` names one by key (unknown keys fall back to
:data:`app.plans.terms.DEFAULT_TERMS`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk


class Plan(Base):
    """A partner's plan: ``terms`` holds the SLA objectives and the rate card (``PlanTerms``)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("partner_id", "key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(63))
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class QuotaNotice(Base):
    """A retailer reached a quota's soft (or hard) limit in a period: recorded once, and its partner told
    once (the unique key is what makes the notice once)."""

    __tablename__ = "quota_notices"
    __table_args__ = (UniqueConstraint("tenant_id", "quota", "period", "level"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    quota: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))
    """``YYYY-MM``: a quota is noticed at most once a month per level."""
    level: Mapped[str] = mapped_column(String(8))
    """``soft`` or ``hard``."""
    used: Mapped[int] = mapped_column(BigInteger)
    limit: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
