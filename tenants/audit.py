"""The audit log: who changed what, when, from where, with before/after values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base


class AuditEntry(Base):
    """One audited change. Written in the same transaction as the change it describes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    partner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    ip: Mapped[str | None] = mapped_column(String(45))
    correlation_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_tenant_time", "tenant_id", "occurred_at"),
        Index("ix_audit_log_partner_time", "partner_id", "occurred_at"),
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is making a change, for the audit log."""

    type: str  # user, api_key, system, cli
    id: uuid.UUID | str | None = None
    ip: str | None = None
    correlation_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli")


async def record_audit(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    target_type: str,
    target_id: uuid.UUID | str | None,
    tenant_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session's transaction."""
    entry = AuditEntry(
        actor_type=actor.type,
        actor_id=str(actor.id) if actor.id is not None else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        tenant_id=tenant_id,
        partner_id=partner_id,
        changes=changes or {},
        ip=actor.ip,
        correlation_id=actor.correlation_id,
    )
    session.add(entry)
    return entry
