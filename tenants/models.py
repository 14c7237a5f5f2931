"""Partners, tenants (retailers), users and memberships: who exists and who belongs where."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database.base import Base, created_at_column, uuid_pk


class Partner(Base):
    """An ERP partner, MSP or integrator reselling Shelfsync under its own brand."""

    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    custom_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    favicon_url: Mapped[str | None] = mapped_column(String(2048))
    primary_color: Mapped[str] = mapped_column(String(7), server_default="#1f4e79")
    accent_color: Mapped[str] = mapped_column(String(7), server_default="#f0a500")
    support_email: Mapped[str | None] = mapped_column(String(320))
    footer_text: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    tenants: Mapped[list[Tenant]] = relationship(back_populates="partner", lazy="raise")

    __table_args__ = (
        CheckConstraint("slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'", name="slug_format"),
        CheckConstraint("primary_color ~ '^#[0-9a-fA-F]{6}$'", name="primary_color_hex"),
        CheckConstraint("accent_color ~ '^#[0-9a-fA-F]{6}$'", name="accent_color_hex"),
    )


class Tenant(Base):
    """A retailer onboarded by a partner; the unit of isolation for all retail data."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = uuid_pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(63), server_default="standard")
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    created_at: Mapped[datetime] = created_at_column()

    partner: Mapped[Partner] = relationship(back_populates="tenants", lazy="raise")

    __table_args__ = (
        UniqueConstraint("partner_id", "slug"),
        CheckConstraint("status IN ('active', 'suspended', 'deleting')", name="status_known"),
        CheckConstraint("slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'", name="slug_format"),
    )


class User(Base):
    """A person who signs in to a portal; reach comes from memberships."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200), server_default="")
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = created_at_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)


class Membership(Base):
    """A user's role at the platform, at one partner, or at one tenant."""

    __tablename__ = "memberships"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("user_id", "partner_id", "tenant_id", postgresql_nulls_not_distinct=True),
        CheckConstraint(
            "(role = 'platform_admin' AND partner_id IS NULL AND tenant_id IS NULL)"
            " OR (role IN ('partner_admin', 'partner_operator')"
            "     AND partner_id IS NOT NULL AND tenant_id IS NULL)"
            " OR (role IN ('retailer_admin', 'retailer_viewer')"
            "     AND partner_id IS NOT NULL AND tenant_id IS NOT NULL)",
            name="role_matches_reach",
        ),
    )


class PasswordResetToken(Base):
    """A single-use, short-lived token mailed to a user who forgot a password (stored hashed)."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
