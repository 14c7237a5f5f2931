"""The ``shelfsync`` command: database migrations, web server, worker, demo, and admin tasks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from app.embedded import EmbeddedServices, ensure_services
from app.logging import configure_logging
from app.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


@contextmanager
def _services() -> Iterator[Settings]:
    """Settings with service URLs, starting (and finally stopping) embedded servers if needed."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level)
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit lets the
    # ``finally`` below stop embedded servers instead of leaving them running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    embedded = EmbeddedServices()
    try:
        try:
            settings, embedded = ensure_services(settings)
        except Exception as exc:
            raise click.ClickException(f"could not start embedded services: {exc}") from None
        yield settings
    finally:
        embedded.stop()


def _with_db(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from app.database.engine import Database, app_engine

    async def run() -> T:
        database = Database.from_engine(app_engine(settings))
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _require_migrated(settings: Settings) -> None:
    from app.database.migrations import current_revision, head_revision

    try:
        current = current_revision(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot reach PostgreSQL: {str(exc).splitlines()[0]}") from None
    head = head_revision(settings)
    if current != head:
        raise click.ClickException(
            f"the database is at revision {current or 'none'}, the code needs {head}:"
            " run `shelfsync db upgrade`"
        )


@click.group()
def main() -> None:
    """Shelfsync: keep prices, promotions, stock and orders in sync between ERPs and channels."""


# -- db ---------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    from app.database import migrations

    with _services() as settings:
        migrations.upgrade(settings, revision)
        click.echo(f"database at {migrations.current_revision(settings)}")


@db.command()
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step back)."""
    from app.database import migrations

    with _services() as settings:
        migrations.downgrade(settings, revision)
        click.echo(f"database at {migrations.current_revision(settings) or 'base'}")


@db.command()
def current() -> None:
    """Print the schema revision."""
    from app.database import migrations

    with _services() as settings:
        click.echo(migrations.current_revision(settings) or "base (empty)")


# -- serve / worker ---------------------------------------------------------------------------


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from app.factory import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, proxy_headers=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the web portal and API."""
    with _services() as settings:
        _require_migrated(settings)
        _serve(settings, host, port)


@main.command()
@click.option("--burst", is_flag=True, help="Drain the queue and exit.")
def worker(burst: bool) -> None:
    """Run a background worker (jobs and the outbox relay)."""
    from app.worker import build_worker, run_worker

    with _services() as settings:
        _require_migrated(settings)
        if burst:
            build_worker(settings, burst=True).run()
        else:
            run_worker(settings)


PEERS = {"vendure": "connectors.peers.vendure", "tryton": "connectors.peers.tryton"}
"""Real open-source systems that run locally; ``sandbox`` installs and serves them like the sandboxes."""


def _name_values(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, object]:
    """``name=value`` pairs; a value that reads as JSON (22, true, {"a": 1}) is taken as JSON."""
    import json

    parsed: dict[str, object] = {}
    for pair in values:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not name=value")
        try:
            parsed[name] = json.loads(raw)
        except ValueError:
            parsed[name] = raw
    return parsed


@main.command()
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, type=int)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_name_values,
    help="A sandbox option, e.g. restore_rate=1000 or page_size=20 (JSON values; else text).",
)
def sandbox(name: str, host: str, port: int, options: dict[str, object]) -> None:
    """Serve sandbox NAME (a local stand-in for a remote system) or a real peer (vendure, tryton)."""
    import importlib

    import uvicorn

    from connectors.sandboxes import SANDBOXES, create_sandbox

    if name in PEERS:
        importlib.import_module(PEERS[name]).main(["serve", "--port", str(port)])
        return
    if name not in SANDBOXES:
        known = ", ".join(sorted([*SANDBOXES, *PEERS]))
        raise click.UsageError(f"unknown sandbox {name!r}; known: {known}")
    try:
        app = create_sandbox(name, **options)
    except TypeError as error:
        raise click.UsageError(f"sandbox {name}: {error}") from None
    click.echo(f"sandbox {name} on http://{host}:{port} (faults: POST /_sandbox/faults)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


# -- demo -------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Start embedded services, migrate, seed demo data, and run the portal with a worker."""
    from app.admin_tasks import billing_setup_task
    from app.database import migrations
    from app.demo import DEMO_PASSWORD, seed_demo
    from app.demo_stripe import demo_stripe, stripe_environment

    with _services() as services, demo_stripe(services, port) as settings:
        migrations.upgrade(settings)

        seeded = _with_db(settings, lambda db: seed_demo(db, settings))
        # the demo partner is billed by the platform through the Stripe sandbox
        _with_db(settings, lambda db: billing_setup_task(db, settings, seeded.partner_slug))
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url or "",
            "REDIS_URL": settings.redis_url or "",
            **stripe_environment(settings),
        }
        env["SECRET_KEY"] = settings.secret_key
        worker_process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
        shown_port = f":{port}" if port != 80 else ""
        lines = [
            "",
            "Shelfsync demo is running.",
            f"  Partner portal : http://{seeded.partner_slug}.{settings.base_domain}{shown_port}/",
            f"  Platform portal: http://{settings.base_domain}{shown_port}/",
            f"  API            : http://{host}{shown_port}/api/v1/tenant   (docs: /schema)",
            f"  API key ({seeded.api_key_tenant}): {seeded.api_key}",
            f"  Stripe sandbox : {settings.stripe_api_base}   (billing {seeded.partner_slug})",
            f"  Logins (password for all: {DEMO_PASSWORD}):",
            *(f"    {login.role.value:<17} {login.email:<28} {login.where}" for login in seeded.logins),
            "  Stop with Ctrl-C.",
            "",
        ]
        click.echo("\n".join(lines), err=False)
        sys.stdout.flush()
        try:
            _serve(settings, host, port)
        finally:
            worker_process.send_signal(signal.SIGINT)
            try:
                worker_process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker_process.kill()


# -- admin ------------------------------------------------------------------------------------


@main.group()
def admin() -> None:
    """Operator tasks: partners, users, API keys."""


@admin.command("create-partner")
@click.option("--slug", required=True, help="Subdomain label, e.g. acme → acme.BASE_DOMAIN")
@click.option("--name", required=True)
@click.option("--primary-color", default=None)
@click.option("--accent-color", default=None)
@click.option("--logo-url", default=None)
@click.option("--custom-domain", default=None)
@click.option("--support-email", default=None)
def create_partner_command(slug: str, name: str, **branding: str | None) -> None:
    """Create a partner with its branding."""
    from app.admin_tasks import create_partner_task

    with _services() as settings:
        _require_migrated(settings)
        partner_id = _with_db(settings, lambda db: create_partner_task(db, slug, name, branding))
        click.echo(f"partner {slug} created: {partner_id}")


@admin.command("derive-template")
@click.option("--partner", "partner_slug", required=True)
@click.option("--key", required=True, help="The derived template's key, as retailers pick it")
@click.option("--name", required=True)
@click.option("--base", "base_key", required=True, help="A built-in template: vendure, tryton, flatfile, …")
@click.option("--default", "defaults", multiple=True, callback=_name_values, help="name=value (repeatable)")
@click.option("--lock", "locked", multiple=True, help="A field retailers cannot change (repeatable)")
def derive_template_command(
    partner_slug: str,
    key: str,
    name: str,
    base_key: str,
    defaults: dict[str, object],
    locked: tuple[str, ...],
) -> None:
    """Publish a partner's template over a built-in one, with defaults and locked fields."""
    from app.admin_tasks import derive_template_task

    with _services() as settings:
        _require_migrated(settings)
        template_id = _with_db(
            settings,
            lambda db: derive_template_task(
                db,
                partner_slug,
                key=key,
                name=name,
                base_key=base_key,
                defaults=defaults,
                locked=list(locked),
            ),
        )
        click.echo(f"template {key} published for {partner_slug}: {template_id}")


@admin.command("create-tenant")
@click.option("--partner", "partner_slug", required=True)
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--plan", default="standard", show_default=True)
def create_tenant_command(partner_slug: str, slug: str, name: str, plan: str) -> None:
    """Create a retailer (tenant) under a partner."""
    from app.admin_tasks import create_tenant_task

    with _services() as settings:
        _require_migrated(settings)
        tenant_id = _with_db(settings, lambda db: create_tenant_task(db, partner_slug, slug, name, plan))
        click.echo(f"tenant {partner_slug}/{slug} created: {tenant_id}")


@admin.command("create-user")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        ["platform_admin", "partner_admin", "partner_operator", "retailer_admin", "retailer_viewer"]
    ),
)
@click.option("--partner", "partner_slug", default=None, help="Partner slug (partner and retailer roles)")
@click.option("--tenant", "tenant_slug", default=None, help="Tenant slug (retailer roles)")
def create_user_command(
    email: str, password: str, role: str, partner_slug: str | None, tenant_slug: str | None
) -> None:
    """Create a user with one role."""
    from app.admin_tasks import create_user_task

    with _services() as settings:
        _require_migrated(settings)
        user_id = _with_db(
            settings,
            lambda db: create_user_task(db, email, password, role, partner_slug, tenant_slug),
        )
        click.echo(f"user {email} created: {user_id}")


@admin.command("create-api-key")
@click.option("--partner", "partner_slug", required=True)
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, help="Repeat for several; default: every read scope")
def create_api_key_command(partner_slug: str, tenant_slug: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create a tenant API key and print its secret (shown this once)."""
    from app.admin_tasks import create_api_key_task

    with _services() as settings:
        _require_migrated(settings)
        prefix, secret = _with_db(
            settings,
            lambda db: create_api_key_task(db, partner_slug, tenant_slug, name, list(scopes)),
        )
        click.echo(f"API key {prefix} created. Secret (shown once):\n{secret}")


@admin.command("billing-setup")
@click.option("--partner", "partner_slug", required=True)
def billing_setup_command(partner_slug: str) -> None:
    """Set a partner up for platform billing in Stripe (STRIPE_API_KEY): customer, meters, subscription."""
    from app.admin_tasks import billing_setup_task

    with _services() as settings:
        _require_migrated(settings)
        customer, subscription = _with_db(settings, lambda db: billing_setup_task(db, settings, partner_slug))
        click.echo(
            f"partner {partner_slug} billed as Stripe customer {customer}, subscription {subscription}"
        )


if __name__ == "__main__":
    main()
