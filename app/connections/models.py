"""Rows for partner-derived connector templates and tenant connections (secrets sealed, never plain)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk

CONNECTION_STATUSES = ("active", "needs_reauthorisation", "disabled")


class PartnerTemplate(Base):
    """A partner's variant of a built-in template: defaults and locked fields for its retailers."""

    __tablename__ = "partner_templates"
    __table_args__ = (UniqueConstraint("partner_id", "key"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    base_key: Mapped[str] = mapped_column(String(63))
    defaults: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    locked: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Connection(Base):
    """A tenant's connection to one system: template, public config, sealed secrets, last check."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint(f"status IN {CONNECTION_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    template_key: Mapped[str] = mapped_column(String(63))
    partner_template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partner_templates.id", ondelete="RESTRICT")
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    secrets_sealed: Mapped[str | None] = mapped_column(Text)
    """``SecretBox`` output (``<key id>:<base64>``) bound to this row's id; never returned."""
    secret_names: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    rate_limit: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """``{"rate": requests/s, "burst": n}`` agreed with the remote system; None: the template's own."""
    batch_size: Mapped[int | None] = mapped_column(Integer)
    """Records per write; None: the template's own."""
    status: Mapped[str] = mapped_column(String(32), server_default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_check_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def sealing_context(self) -> bytes:
        """Associated data binding the sealed secrets to this row: copied elsewhere, they do not open."""
        return f"connection:{self.id}".encode()

    @property
    def secrets_key_id(self) -> str | None:
        return self.secrets_sealed.partition(":")[0] if self.secrets_sealed else None
