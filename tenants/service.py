"""Creating partners, tenants, users and memberships, and signing users in.

Callers pass a session already bound to the scope they act in; row-level security refuses what
that scope may not touch, and these functions audit what they change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenants.audit import Actor, record_audit
from tenants.models import Membership, Partner, Tenant, User
from tenants.passwords import hash_password, needs_rehash, verify_password
from tenants.roles import Role


@dataclass(frozen=True, slots=True)
class Reach:
    """One membership, resolved: what a signed-in user may act on, and as what."""

    role: Role
    partner_id: uuid.UUID | None
    tenant_id: uuid.UUID | None
    label: str


class DuplicateError(ValueError):
    """A unique name (partner slug, tenant slug, e-mail) is taken."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field} {value!r} is already taken")
        self.field = field
        self.value = value


async def create_partner(
    session: AsyncSession, actor: Actor, *, slug: str, name: str, **branding: str | None
) -> Partner:
    taken = await session.scalar(select(Partner.id).where(Partner.slug == slug))
    if taken is not None:
        raise DuplicateError("slug", slug)
    partner = Partner(slug=slug, name=name, **{k: v for k, v in branding.items() if v is not None})
    session.add(partner)
    await session.flush()
    await record_audit(
        session,
        actor,
        action="partner.created",
        target_type="partner",
        target_id=partner.id,
        partner_id=partner.id,
        changes={"after": {"slug": slug, "name": name, **branding}},
    )
    return partner


BRANDING_FIELDS = (
    "name",
    "logo_url",
    "favicon_url",
    "primary_color",
    "accent_color",
    "support_email",
    "footer_text",
)
"""What a partner admin edits on the branding page (slug and custom domain are set by the platform)."""


async def update_branding(
    session: AsyncSession, actor: Actor, partner: Partner, changes: dict[str, str | None]
) -> dict[str, dict[str, str | None]]:
    """Apply branding ``changes`` (fields of ``BRANDING_FIELDS``); audited with before and after.
    Returns what changed."""
    changed = {
        field: {"before": getattr(partner, field), "after": value}
        for field, value in changes.items()
        if field in BRANDING_FIELDS and getattr(partner, field) != value
    }
    for field, values in changed.items():
        setattr(partner, field, values["after"])
    if changed:
        await session.flush()
        await record_audit(
            session,
            actor,
            action="partner.branding_changed",
            target_type="partner",
            target_id=partner.id,
            partner_id=partner.id,
            changes={
                "before": {f: v["before"] for f, v in changed.items()},
                "after": {f: v["after"] for f, v in changed.items()},
            },
        )
    return changed


async def create_tenant(
    session: AsyncSession,
    actor: Actor,
    *,
    partner_id: uuid.UUID,
    slug: str,
    name: str,
    plan: str = "standard",
) -> Tenant:
    taken = await session.scalar(
        select(Tenant.id).where(Tenant.partner_id == partner_id, Tenant.slug == slug)
    )
    if taken is not None:
        raise DuplicateError("slug", slug)
    tenant = Tenant(partner_id=partner_id, slug=slug, name=name, plan=plan)
    session.add(tenant)
    await session.flush()
    await record_audit(
        session,
        actor,
        action="tenant.created",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        partner_id=partner_id,
        changes={"after": {"slug": slug, "name": name, "plan": plan}},
    )
    return tenant


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


async def create_user(
    session: AsyncSession, actor: Actor, *, email: str, password: str | None, full_name: str = ""
) -> User:
    email = email.strip().lower()
    if await find_user_by_email(session, email) is not None:
        raise DuplicateError("email", email)
    user = User(
        email=email,
        full_name=full_name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    await session.flush()
    await record_audit(
        session,
        actor,
        action="user.created",
        target_type="user",
        target_id=user.id,
        changes={"after": {"email": email, "full_name": full_name}},
    )
    return user


async def grant_role(
    session: AsyncSession,
    actor: Actor,
    *,
    user_id: uuid.UUID,
    role: Role,
    partner_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
) -> Membership:
    """Give a user a role at the platform, a partner or a tenant (the partner is derived for a tenant)."""
    if role.level == "tenant":
        if tenant_id is None:
            raise ValueError(f"{role} needs a tenant")
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise LookupError("tenant not found")
        partner_id = tenant.partner_id
    elif role.level == "partner":
        if partner_id is None:
            raise ValueError(f"{role} needs a partner")
        tenant_id = None
    else:
        partner_id = tenant_id = None
    membership = Membership(user_id=user_id, role=role.value, partner_id=partner_id, tenant_id=tenant_id)
    session.add(membership)
    await session.flush()
    await record_audit(
        session,
        actor,
        action="membership.granted",
        target_type="user",
        target_id=user_id,
        partner_id=partner_id,
        tenant_id=tenant_id,
        changes={"after": {"role": role.value}},
    )
    return membership


async def reaches_of(session: AsyncSession, user_id: uuid.UUID) -> list[Reach]:
    """Every membership of a user with a human label, platform first, then partners, then tenants."""
    rows = await session.execute(
        select(Membership, Partner.name, Tenant.name)
        .outerjoin(Partner, Partner.id == Membership.partner_id)
        .outerjoin(Tenant, Tenant.id == Membership.tenant_id)
        .where(Membership.user_id == user_id)
    )
    reaches = []
    for membership, partner_name, tenant_name in rows:
        role = Role(membership.role)
        label = tenant_name or partner_name or "Platform"
        reaches.append(Reach(role, membership.partner_id, membership.tenant_id, label))
    order = {"platform": 0, "partner": 1, "tenant": 2}
    return sorted(reaches, key=lambda r: (order[r.role.level], r.label))


async def authenticate(session: AsyncSession, email: str, password: str, now: datetime) -> User | None:
    """The active user with this e-mail and password, or None (same cost either way).

    Runs in the ``system`` scope: nobody is known yet.
    """
    user = await find_user_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    values: dict[str, object] = {"last_login_at": now}
    if user.password_hash and needs_rehash(user.password_hash):
        values["password_hash"] = hash_password(password)
    await session.execute(update(User).where(User.id == user.id).values(**values))
    return user
