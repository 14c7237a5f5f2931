"""Demo data: one branded partner, two retailers, a user for every role, and an API key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.database.engine import Database
from app.database.scope import DbScope
from tenants.api_keys import SCOPES, create_api_key
from tenants.audit import Actor
from tenants.models import Partner, Tenant
from tenants.roles import Role
from tenants.service import (
    create_partner,
    create_tenant,
    create_user,
    find_user_by_email,
    grant_role,
)

DEMO_PASSWORD = "shelfsync-demo"  # noqa: S105 - printed by the demo on purpose
PARTNER_SLUG = "northwind"


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    where: str


@dataclass(frozen=True)
class DemoSeed:
    partner_slug: str
    logins: list[DemoLogin]
    api_key: str
    api_key_tenant: str


RETAILERS = (("harbor", "Harbor Outfitters"), ("maple", "Maple Grocers"))


async def seed_demo(db: Database) -> DemoSeed:
    """Create the demo rows that are missing (idempotent) and a fresh demo API key."""
    actor = Actor("system", "demo-seed")
    logins: list[DemoLogin] = []
    async with db.transaction(DbScope.system()) as session:
        partner = await session.scalar(select(Partner).where(Partner.slug == PARTNER_SLUG))
        if partner is None:
            partner = await create_partner(
                session,
                actor,
                slug=PARTNER_SLUG,
                name="Northwind Retail Cloud",
                primary_color="#0b4f6c",
                accent_color="#f4a259",
                support_email="support@northwind.example",
                footer_text="Northwind Retail Cloud · ERP integration services",
                logo_url="/static/demo/northwind-logo.svg",
            )
        tenants: dict[str, Tenant] = {}
        for slug, name in RETAILERS:
            tenant = await session.scalar(
                select(Tenant).where(Tenant.partner_id == partner.id, Tenant.slug == slug)
            )
            tenants[slug] = tenant or await create_tenant(
                session, actor, partner_id=partner.id, slug=slug, name=name
            )

        wanted: list[tuple[Role, str, Tenant | None, str]] = [
            (Role.PLATFORM_ADMIN, "platform@shelfsync.example", None, "platform"),
            (Role.PARTNER_ADMIN, "admin@northwind.example", None, partner.name),
            (Role.PARTNER_OPERATOR, "operator@northwind.example", None, partner.name),
        ]
        for slug, _ in RETAILERS:
            wanted.append((Role.RETAILER_ADMIN, f"admin@{slug}.example", tenants[slug], tenants[slug].name))
            wanted.append((Role.RETAILER_VIEWER, f"viewer@{slug}.example", tenants[slug], tenants[slug].name))
        for role, email, tenant, where in wanted:
            if await find_user_by_email(session, email) is None:
                user = await create_user(session, actor, email=email, password=DEMO_PASSWORD)
                await grant_role(
                    session,
                    actor,
                    user_id=user.id,
                    role=role,
                    partner_id=partner.id if role.level == "partner" else None,
                    tenant_id=tenant.id if tenant else None,
                )
            logins.append(DemoLogin(role, email, where))

        harbor = tenants["harbor"]
        _, secret = await create_api_key(session, tenant_id=harbor.id, name="demo key", scopes=list(SCOPES))
    return DemoSeed(PARTNER_SLUG, logins, secret, harbor.name)
