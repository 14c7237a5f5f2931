"""Tenant API keys: random, shown once, stored as a SHA-256 digest, scoped, revocable, last use tracked.

A key reads ``ss_live_<8 chars>_<43 chars>``. The first part (``ss_live_<8 chars>``) is the public
prefix we store, list and look up by; the whole key is hashed. A key has 256 bits of randomness, so a
fast hash is enough (argon2 is for low-entropy passwords).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, String, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk
from tenants.models import Tenant

KEY_PREFIX = "ss_live_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""last_used_at is written at most this often per key, so reads do not turn into writes."""

SCOPES: dict[str, str] = {
    "tenant:read": "read the key's tenant, partner and plan",
    "api_keys:read": "list the tenant's API keys",
    "api_keys:write": "create and revoke the tenant's API keys",
    "connections:read": "list and read connections",
    "connections:write": "create, change, delete and test connections",
    "recipes:read": "list and read mapping recipes",
    "recipes:write": "create recipe versions and preview them",
    "flows:read": "list and read flows and runs",
    "flows:write": "create and change flows, trigger runs",
    "events:write": "push inventory, price and order events",
    "stock:read": "read canonical stock",
    "prices:read": "read canonical prices",
    "promotions:read": "read promotions and deployments",
    "promotions:write": "create promotions and move them through their lifecycle",
    "dead_letters:read": "list dead letters",
    "dead_letters:write": "replay and discard dead letters",
    "usage:read": "read usage, SLA reports and invoices",
    "health:read": "read sync health",
    "alerts:read": "list and read alert rules and incidents",
    "alerts:write": "create, change and delete alert rules",
}
READ_SCOPES = tuple(scope for scope in SCOPES if scope.endswith(":read"))


class ApiKey(Base):
    """A tenant's API key (the secret itself is never stored)."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """The caller behind a valid API key."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID
    partner_id: uuid.UUID
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class UnknownScopeError(ValueError):
    """A requested scope is not one of :data:`SCOPES`."""

    def __init__(self, scopes: list[str]) -> None:
        super().__init__(f"unknown scopes: {', '.join(scopes)}")
        self.scopes = scopes


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """A fresh key and its public prefix."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def split_prefix(key: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    size = len(KEY_PREFIX) + 8
    prefix, separator, secret = key[:size], key[size : size + 1], key[size + 1 :]
    if not prefix.startswith(KEY_PREFIX) or separator != "_" or len(secret) < 32:
        return None
    return prefix


async def create_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    name: str,
    scopes: list[str],
    created_by: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never retrievable again."""
    unknown = sorted(set(scopes) - SCOPES.keys())
    if unknown:
        raise UnknownScopeError(unknown)
    secret, prefix = generate_key()
    row = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        secret_hash=_digest(secret),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def authenticate_api_key(session: AsyncSession, key: str, now: datetime) -> ApiPrincipal | None:
    """The principal of an active key, or None. Run it in the ``system`` scope: no tenant is known yet."""
    prefix = split_prefix(key)
    if prefix is None:
        return None
    found = (
        await session.execute(
            select(ApiKey, Tenant.partner_id)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKey.prefix == prefix, Tenant.status == "active")
        )
    ).first()
    if found is None:
        return None
    row, partner_id = found
    if not hmac.compare_digest(row.secret_hash, _digest(key)) or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    return ApiPrincipal(row.id, row.tenant_id, partner_id, frozenset(row.scopes))


async def revoke_api_key(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime
) -> ApiKey | None:
    """Revoke one of the tenant's keys; None when the tenant has no such key."""
    row = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id).with_for_update()
    )
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
    return row
