"""Rows for promotions, the history of their state changes, and their deployment to each destination."""

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
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk


class PromotionEntry(Base):
    """A promotion: the canonical definition, its lifecycle state, who proposed and approved it."""

    __tablename__ = "promotions"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The canonical ``Promotion`` (``connectors.canonical.promotion``) as JSON."""
    state: Mapped[str] = mapped_column(String(16), server_default="draft")
    requires_second_approver: Mapped[bool] = mapped_column(Boolean, server_default="true")
    proposed_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    validation: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    """The last validation report: ``{"ok": bool, "failures": [{rule, message, skus}]}``."""
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    """The window, copied from ``spec`` so the scheduler finds due promotions with an index."""
    sequence: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    """Connector kinds in deployment order (``["file", "pos", "ecommerce", "marketplace"]``); kinds not
    named deploy last. Empty: the default order."""
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Held by the worker advancing its deployments; a worker that dies lets the lease run out."""
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PromotionTransition(Base):
    """One state change: from, to, who, when, why."""

    __tablename__ = "promotion_transitions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    promotion_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("promotions.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PromotionDeployment(Base):
    """A promotion on one destination (a connection that prices flow to): what it should show (``goal``:
    the promotional prices, or the regular ones restored), how far it got (``status``), and when.

    Status: pending → deployed → verified while the goal is ``live``; ``failed`` (retried at
    ``next_attempt_at``) either way; ``paused``, ``rolled_back`` or ``expired`` once regular prices are
    restored and read back.
    """

    __tablename__ = "promotion_deployments"
    __table_args__ = (UniqueConstraint("promotion_id", "destination_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    promotion_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("promotions.id", ondelete="CASCADE"), index=True
    )
    destination_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flow_destinations.id", ondelete="CASCADE"), index=True
    )
    connection_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    stage: Mapped[int] = mapped_column(Integer)
    goal: Mapped[str] = mapped_column(String(16), server_default="live")
    restore_as: Mapped[str | None] = mapped_column(String(16))
    """What the deployment becomes once its regular prices are back: paused, rolled_back or expired."""
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    records: Mapped[int] = mapped_column(Integer, server_default="0")
    """Prices written in the last attempt (one per SKU, or per SKU and store for store files)."""
    deployed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lateness_ms: Mapped[int | None] = mapped_column(Integer)
    """First deployed-at minus the window's start (0 when deployed before it): the SLA figure."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
