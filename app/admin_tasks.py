"""What ``shelfsync admin …`` does, as plain functions (the CLI only parses and prints)."""

from __future__ import annotations

import uuid

import click
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import SystemClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.settings import Settings
from tenants.api_keys import READ_SCOPES, UnknownScopeError, create_api_key
from tenants.audit import Actor
from tenants.models import Partner, Tenant
from tenants.passwords import password_problem
from tenants.roles import Role
from tenants.service import (
    DuplicateError,
    create_partner,
    create_tenant,
    create_user,
    grant_role,
)


async def _partner(session: object, slug: str) -> Partner:
    partner = await session.scalar(select(Partner).where(Partner.slug == slug))  # type: ignore[attr-defined]
    if partner is None:
        raise click.ClickException(f"no partner with slug {slug!r}")
    return partner  # type: ignore[no-any-return]


async def _tenant(session: object, partner_slug: str, slug: str) -> Tenant:
    partner = await _partner(session, partner_slug)
    tenant = await session.scalar(  # type: ignore[attr-defined]
        select(Tenant).where(Tenant.partner_id == partner.id, Tenant.slug == slug)
    )
    if tenant is None:
        raise click.ClickException(f"no tenant {slug!r} at partner {partner_slug!r}")
    return tenant  # type: ignore[no-any-return]


async def create_partner_task(
    db: Database, slug: str, name: str, branding: dict[str, str | None]
) -> uuid.UUID:
    try:
        async with db.transaction(DbScope.system()) as session:
            partner = await create_partner(session, Actor.cli(), slug=slug, name=name, **branding)
            return partner.id
    except DuplicateError as exc:
        raise click.ClickException(str(exc)) from None
    except IntegrityError as exc:
        raise click.ClickException(f"invalid partner: {str(exc.orig).splitlines()[0]}") from None


async def create_tenant_task(db: Database, partner_slug: str, slug: str, name: str, plan: str) -> uuid.UUID:
    try:
        async with db.transaction(DbScope.system()) as session:
            partner = await _partner(session, partner_slug)
            tenant = await create_tenant(
                session, Actor.cli(), partner_id=partner.id, slug=slug, name=name, plan=plan
            )
            return tenant.id
    except DuplicateError as exc:
        raise click.ClickException(str(exc)) from None
    except IntegrityError as exc:
        raise click.ClickException(f"invalid tenant: {str(exc.orig).splitlines()[0]}") from None


async def create_user_task(
    db: Database,
    email: str,
    password: str,
    role_name: str,
    partner_slug: str | None,
    tenant_slug: str | None,
) -> uuid.UUID:
    role = Role(role_name)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"password {problem}")
    if role.level != "platform" and not partner_slug:
        raise click.ClickException(f"--partner is required for {role.value}")
    if role.level == "tenant" and not tenant_slug:
        raise click.ClickException(f"--tenant is required for {role.value}")
    try:
        async with db.transaction(DbScope.system()) as session:
            partner_id = tenant_id = None
            if role.level == "tenant":
                tenant_id = (await _tenant(session, partner_slug or "", tenant_slug or "")).id
            elif role.level == "partner":
                partner_id = (await _partner(session, partner_slug or "")).id
            user = await create_user(session, Actor.cli(), email=email, password=password)
            await grant_role(
                session,
                Actor.cli(),
                user_id=user.id,
                role=role,
                partner_id=partner_id,
                tenant_id=tenant_id,
            )
            return user.id
    except DuplicateError as exc:
        raise click.ClickException(str(exc)) from None


async def create_api_key_task(
    db: Database, partner_slug: str, tenant_slug: str, name: str, scopes: list[str]
) -> tuple[str, str]:
    try:
        async with db.transaction(DbScope.system()) as session:
            tenant = await _tenant(session, partner_slug, tenant_slug)
            row, secret = await create_api_key(
                session, tenant_id=tenant.id, name=name, scopes=scopes or list(READ_SCOPES)
            )
            return row.prefix, secret
    except UnknownScopeError as exc:
        raise click.ClickException(str(exc)) from None


async def derive_template_task(
    db: Database,
    partner_slug: str,
    *,
    key: str,
    name: str,
    base_key: str,
    defaults: dict[str, object],
    locked: list[str],
) -> uuid.UUID:
    from app.connections.templates import derive_template
    from connectors.sdk.errors import ConfigError

    try:
        async with db.transaction(DbScope.system()) as session:
            partner = await _partner(session, partner_slug)
            row = await derive_template(
                session,
                Actor.cli(),
                partner_id=partner.id,
                key=key,
                name=name,
                base_key=base_key,
                defaults=defaults,
                locked=locked,
            )
            return row.id
    except ConfigError as exc:
        listed = "; ".join(f"{path}: {reason}" for path, reason in exc.problems) or exc.message
        raise click.ClickException(f"invalid template: {listed}") from None
    except IntegrityError:
        raise click.ClickException(f"partner {partner_slug!r} already has a template {key!r}") from None


async def billing_setup_task(db: Database, settings: Settings, partner_slug: str) -> tuple[str, str | None]:
    """Set a partner up in Stripe (customer, meters, metered prices, subscription); its customer and
    subscription ids."""
    import stripe

    from app.billing.service import ensure_billing_account
    from app.billing.stripe_api import BillingNotConfiguredError

    async with db.transaction(DbScope.system()) as session:
        partner_id = (await _partner(session, partner_slug)).id
    try:
        account = await ensure_billing_account(db, settings, partner_id, SystemClock().now())
    except BillingNotConfiguredError as error:
        raise click.ClickException(str(error)) from None
    except stripe.StripeError as error:
        raise click.ClickException(f"Stripe refused: {error.user_message or error}") from None
    return account.stripe_customer_id, account.stripe_subscription_id
