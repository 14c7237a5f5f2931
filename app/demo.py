"""Demo data: one branded partner, two retailers, a user for every role, an API key, a partner template,
connections and the recipes they use."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import SystemClock
from app.connections.models import Connection, PartnerTemplate
from app.connections.service import create_connection, network_policy, tenant_folder
from app.connections.templates import derive_template
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.models import Flow
from app.flows.service import DestinationSpec, create_flow
from app.recipes.models import Recipe
from app.recipes.service import save_recipe_version
from app.settings import Settings
from connectors.recipes import default_recipe
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
DEMO_RECIPES = (
    ("Store price files", "flatfile", "prices", "outbound"),
    ("Store stock files", "flatfile", "inventory", "outbound"),
    ("Orders pushed by the web shop", "webhook", "orders", "inbound"),
)


async def seed_integrations(
    session: AsyncSession, settings: Settings, partner: Partner, tenant: Tenant
) -> None:
    """Northwind's "Store file drop" template (a flat-file folder per retailer), and for the retailer a
    store file connection, a signed order webhook and the default recipes they use."""
    if await session.scalar(select(PartnerTemplate).where(PartnerTemplate.partner_id == partner.id)) is None:
        await derive_template(
            session,
            Actor("system", "demo-seed"),
            partner_id=partner.id,
            key="northwind-store-files",
            name="Northwind store file drop",
            base_key="flatfile",
            defaults={"transport": "folder", "grouping": "store", "path": "stores"},
            locked=["transport"],
        )
    if await session.scalar(select(Connection).where(Connection.tenant_id == tenant.id)) is None:
        box = SecretBox.from_settings(settings)
        folder = tenant_folder(settings, tenant.id)
        for sub in ("stores/inbound", "stores/outbound"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, template_key, values in (
            ("Store files", "northwind-store-files", {}),
            ("Web shop order webhook", "webhook", {"secret": secrets.token_urlsafe(24)}),
        ):
            await create_connection(
                session,
                box,
                folder=folder,
                network=network_policy(settings),
                tenant_id=tenant.id,
                partner_id=partner.id,
                name=name,
                template_key=template_key,
                values=values,
                now=SystemClock().now(),
            )
    for name, template_key, domain, direction in DEMO_RECIPES:
        spec = default_recipe(template_key, domain, direction)
        assert spec is not None, (template_key, domain, direction)
        await save_recipe_version(
            session,
            tenant_id=tenant.id,
            name=name,
            domain=domain,
            spec=spec,
            template_key=template_key,
            created_by="demo-seed",
        )
    await seed_flows(session, partner, tenant)


DEMO_FLOWS = (
    ("Stock to the store files", "inventory", "Store stock files"),
    ("Prices to the store files", "prices", "Store price files"),
)


async def seed_flows(session: AsyncSession, partner: Partner, tenant: Tenant) -> None:
    """Flows fed by the API: stock and prices pushed to /api/v1/events land in the store files."""
    store_files = await session.scalar(
        select(Connection).where(Connection.tenant_id == tenant.id, Connection.name == "Store files")
    )
    assert store_files is not None
    for name, domain, recipe_name in DEMO_FLOWS:
        if await session.scalar(select(Flow.id).where(Flow.tenant_id == tenant.id, Flow.name == name)):
            continue
        recipe = await session.scalar(
            select(Recipe).where(Recipe.tenant_id == tenant.id, Recipe.name == recipe_name)
        )
        assert recipe is not None
        await create_flow(
            session,
            tenant_id=tenant.id,
            partner_id=partner.id,
            name=name,
            domain=domain,
            trigger="event",
            settings={"batch_window_seconds": 2, "low_stock_threshold": 3},
            destinations=[
                DestinationSpec(
                    store_files.id,
                    recipe.id,
                    allocation={"location_code": "S001"} if domain == "inventory" else None,
                )
            ],
        )


async def seed_demo(db: Database, settings: Settings) -> DemoSeed:
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
        await seed_integrations(session, settings, partner, harbor)
        _, secret = await create_api_key(session, tenant_id=harbor.id, name="demo key", scopes=list(SCOPES))
    return DemoSeed(PARTNER_SLUG, logins, secret, harbor.name)
