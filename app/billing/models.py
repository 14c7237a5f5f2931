"""Partner billing rows: the partner's Stripe account, meter reports (one per partner × meter × closed
hour), received Stripe events, partner invoices and reconciliations. Partner-owned, not tenant-owned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk


class BillingAccount(Base):
    """A partner's Stripe customer and subscription, the meters and prices it is billed on, and how far
    its usage has been reported (every hour window before ``reported_until`` has its reports)."""

    __tablename__ = "partner_billing_accounts"

    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(100), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100))
    subscription_status: Mapped[str | None] = mapped_column(String(32))
    subscription_status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    meter_ids: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    """Usage kind → Stripe meter id (``mtr_…``)."""
    price_ids: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    """Usage kind → Stripe metered price id (``price_…``)."""
    billing_starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """The first hour billed: usage before the account existed is not reported."""
    reported_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class MeterReport(Base):
    """One closed hour of one partner's usage of one kind, to be sent to Stripe once as a meter event
    whose ``identifier`` Stripe de-duplicates (pending → sent, or failed after its attempts)."""

    __tablename__ = "meter_reports"
    __table_args__ = (Index("ix_meter_reports_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    event_name: Mapped[str] = mapped_column(String(100))
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[int] = mapped_column(BigInteger)
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class StripeEvent(Base):
    """A Stripe webhook event received and processed (its id is unique, so a redelivery does nothing)."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )
    stripe_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PartnerInvoice(Base):
    """A Stripe invoice of a partner, as the latest ``invoice.*`` event described it."""

    __tablename__ = "partner_invoices"

    id: Mapped[uuid.UUID] = uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    stripe_invoice_id: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    amount_due: Mapped[int] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BillingReconciliation(Base):
    """One check of a partner × meter × period: our usage total against Stripe's meter event summary."""

    __tablename__ = "billing_reconciliations"
    __table_args__ = (Index("ix_billing_reconciliations_partner_period", "partner_id", "period_start"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    meter_id: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    local_total: Mapped[int] = mapped_column(BigInteger)
    stripe_total: Mapped[int] = mapped_column(BigInteger)
    difference: Mapped[int] = mapped_column(BigInteger)
    """``local_total - stripe_total``: positive when Stripe is missing usage."""
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
