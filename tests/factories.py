"""Factory functions for rows, written through the app role in the system scope."""

from __future__ import annotations

import functools
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
from sqlalchemy import update

from app.database.engine import Database
from app.database.scope import DbScope
from app.plans.service import save_plan
from app.plans.terms import DEFAULT_TERMS, Quotas
from tenants.api_keys import create_api_key
from tenants.audit import Actor
from tenants.models import Partner, Tenant, User
from tenants.passwords import hash_password
from tenants.roles import Role
from tenants.service import create_partner, create_tenant, create_user, grant_role

PASSWORD = "correct horse battery"


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


_counter = itertools.count(1)
ACTOR = Actor("system", "tests")


async def make_partner(db: Database, slug: str | None = None, **branding: str) -> Partner:
    async with db.transaction(DbScope.system()) as session:
        return await create_partner(
            session,
            ACTOR,
            slug=slug or f"partner{next(_counter)}",
            name=branding.pop("name", "Partner"),
            **branding,
        )


async def make_tenant(db: Database, partner: Partner, slug: str | None = None) -> Tenant:
    async with db.transaction(DbScope.system()) as session:
        slug = slug or f"tenant{next(_counter)}"
        return await create_tenant(session, ACTOR, partner_id=partner.id, slug=slug, name=slug.title())


async def make_user(
    db: Database,
    role: Role,
    *,
    partner: Partner | None = None,
    tenant: Tenant | None = None,
    email: str | None = None,
) -> User:
    async with db.transaction(DbScope.system()) as session:
        user = await create_user(
            session, ACTOR, email=email or f"user{next(_counter)}@example.com", password=None
        )
        user.password_hash = _password_hash()  # hashed once per run: argon2 is slow on purpose
        await grant_role(
            session,
            ACTOR,
            user_id=user.id,
            role=role,
            partner_id=partner.id if partner else None,
            tenant_id=tenant.id if tenant else None,
        )
        return user


async def make_api_key(db: Database, tenant: Tenant, scopes: list[str], name: str = "key") -> str:
    async with db.transaction(DbScope.system()) as session:
        _, secret = await create_api_key(session, tenant_id=tenant.id, name=name, scopes=scopes)
        return secret


@dataclass
class World:
    partner_a: Partner
    partner_b: Partner
    tenant_a1: Tenant
    tenant_a2: Tenant
    tenant_b1: Tenant
    users: dict[str, User] = field(default_factory=dict)

    def tenant_ids(self) -> dict[str, uuid.UUID]:
        return {"a1": self.tenant_a1.id, "a2": self.tenant_a2.id, "b1": self.tenant_b1.id}


async def build_world(db: Database) -> World:
    partner_a = await make_partner(db, "alpha", name="Alpha Commerce", primary_color="#112233")
    partner_b = await make_partner(db, "beta", name="Beta Systems")
    world = World(
        partner_a,
        partner_b,
        await make_tenant(db, partner_a, "a1"),
        await make_tenant(db, partner_a, "a2"),
        await make_tenant(db, partner_b, "b1"),
    )
    world.users["platform"] = await make_user(db, Role.PLATFORM_ADMIN, email="platform@example.com")
    world.users["partner_admin_a"] = await make_user(
        db, Role.PARTNER_ADMIN, partner=partner_a, email="admin@alpha.example"
    )
    world.users["partner_operator_a"] = await make_user(
        db, Role.PARTNER_OPERATOR, partner=partner_a, email="operator@alpha.example"
    )
    world.users["partner_admin_b"] = await make_user(
        db, Role.PARTNER_ADMIN, partner=partner_b, email="admin@beta.example"
    )
    world.users["retailer_admin_a1"] = await make_user(
        db, Role.RETAILER_ADMIN, tenant=world.tenant_a1, email="admin@a1.example"
    )
    world.users["retailer_viewer_a1"] = await make_user(
        db, Role.RETAILER_VIEWER, tenant=world.tenant_a1, email="viewer@a1.example"
    )
    world.users["retailer_admin_b1"] = await make_user(
        db, Role.RETAILER_ADMIN, tenant=world.tenant_b1, email="admin@b1.example"
    )
    return world


async def put_on_plan(db: Database, tenant: Tenant, key: str, quotas: Quotas, now: datetime) -> None:
    """Give the tenant's partner a plan ``key`` (the default terms with these quotas) and move the
    tenant onto it."""
    terms = msgspec.structs.replace(DEFAULT_TERMS, name=key, quotas=quotas)
    async with db.transaction(DbScope.system()) as session:
        await save_plan(session, tenant.partner_id, key, terms, now)
        await session.execute(update(Tenant).where(Tenant.id == tenant.id).values(plan=key))
