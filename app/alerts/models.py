"""Rows for alert rules (what to watch, whom to tell) and alert incidents (one per firing)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk

METRIC_NAMES = ("dead_letters_open", "success_rate", "backlog_age_seconds", "latency_p95_ms")
COMPARISONS = (">", ">=", "<", "<=")
WEBHOOK_STATES = ("pending", "delivered", "dropped")
RESOLUTIONS = ("recovered", "rule_changed")


class AlertRule(Base):
    """A retailer's rule: when ``metric`` compared with ``threshold`` holds for a flow (one, or any of the
    tenant's), tell these addresses and/or this webhook."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint(f"metric IN {METRIC_NAMES}", name="metric"),
        CheckConstraint(f"comparison IN {COMPARISONS}", name="comparison"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(32))
    comparison: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    window_seconds: Mapped[int] = mapped_column(Integer, server_default="900")
    """How far back windowed metrics (success rate, latency) look; instant ones ignore it."""
    flow_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flows.id", ondelete="CASCADE"), index=True
    )
    """None: every flow of the tenant, each judged (and alerted on) separately."""
    is_enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    emails: Mapped[list[str]] = mapped_column(ARRAY(String(320)), server_default="{}")
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text)
    """``SecretBox`` output bound to this row's id: the HMAC key of the webhook, shown once at creation."""
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def sealing_context(self) -> bytes:
        """Associated data binding the sealed secret to this row: copied elsewhere, it does not open."""
        return f"alert_rule:{self.id}".encode()


class AlertIncident(Base):
    """One time a rule's condition held for a flow: from the first evaluation it held to the first it did
    not. At most one is open per rule × flow (a partial unique index), so concurrent evaluations cannot
    open two."""

    __tablename__ = "alert_incidents"
    __table_args__ = (
        CheckConstraint(f"resolution IN {RESOLUTIONS}", name="resolution"),
        CheckConstraint(f"firing_webhook IN {WEBHOOK_STATES}", name="firing_webhook"),
        CheckConstraint(f"recovered_webhook IN {WEBHOOK_STATES}", name="recovered_webhook"),
        Index(
            "uq_alert_incidents_open",
            "rule_id",
            "flow_id",
            unique=True,
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_alert_incidents_tenant_opened", "tenant_id", "opened_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("flows.id", ondelete="CASCADE"), index=True
    )
    metric: Mapped[str] = mapped_column(String(32))
    comparison: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    """The rule's condition when the incident opened (the rule may change later)."""
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_value: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_value: Mapped[float | None] = mapped_column(Float)
    """The metric at recovery; None when the flow had no traffic left to measure."""
    resolution: Mapped[str | None] = mapped_column(String(16))
    """``recovered`` (the condition stopped holding; notified) or ``rule_changed`` (closed silently when
    its rule's condition was edited, disabled or narrowed to another flow)."""
    firing_mails: Mapped[int] = mapped_column(Integer, server_default="0")
    firing_webhook: Mapped[str | None] = mapped_column(String(16))
    """None without a webhook; ``pending`` until the receiver acknowledged, then ``delivered``;
    ``dropped`` when the rule lost its webhook before it went out."""
    firing_webhook_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recovered_mails: Mapped[int] = mapped_column(Integer, server_default="0")
    recovered_webhook: Mapped[str | None] = mapped_column(String(16))
    recovered_webhook_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
