"""Creating, changing and testing connections. Secrets are sealed on the way in and never come out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection, PartnerTemplate
from app.connections.templates import TemplateChoice, resolve_template
from app.connections.tokens import TOKEN_SECRET
from app.crypto import SecretBox
from app.metering.service import sample_connections
from app.plans.quotas import check_new_connection, connection_added
from app.settings import Settings
from connectors.sdk.config import apply_defaults, secret_fields, split_secrets, validate_config
from connectors.sdk.context import ConnectorContext
from connectors.sdk.derived import apply_derivation
from connectors.sdk.errors import ConfigError, ConnectorError, NetworkPolicyError
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck
from connectors.sdk.template import ConnectorTemplate, check_connection
from connectors.sdk.tokens import TokenStore


def read_secrets(box: SecretBox, row: Connection) -> dict[str, Any]:
    if not row.secrets_sealed:
        return {}
    return box.open_json(row.secrets_sealed, row.sealing_context)


def tenant_folder(settings: Settings, tenant_id: uuid.UUID) -> Path:
    """The only local folder a tenant's file connections may read and write."""
    return (settings.file_root / str(tenant_id)).resolve()


def confine_local_folder(values: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A ``transport: folder`` connection stays inside the tenant's folder: a retailer never reaches the
    server's other files, nor another retailer's. A relative ``path`` is taken from that folder."""
    if values.get("transport") != "folder":
        return values
    path = Path(str(values.get("path") or "."))
    resolved = (folder / path).resolve()
    if not resolved.is_relative_to(folder):
        raise ConfigError("folder outside the tenant's files", [("path", f"must be inside {folder}")])
    return values | {"path": str(resolved)}


async def check_addresses(policy: NetworkPolicy, config: Mapping[str, Any]) -> None:
    """Refuse a connection whose URLs reach a private, loopback or link-local address when it is saved
    (``ConfigError`` on each such field), not first when a worker calls it; ``ConnectorHttp`` checks
    again on every call, after the name has been resolved anew."""
    problems = []
    for name, value in config.items():
        if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
            try:
                await policy.check_url(value)
            except NetworkPolicyError as error:
                problems.append((name, str(error)))
    if problems:
        raise ConfigError("a URL reaches an address connections may not reach", problems)


def _store(
    box: SecretBox, row: Connection, choice: TemplateChoice, values: Mapping[str, Any], folder: Path
) -> tuple[dict[str, Any], list[str]]:
    """Validate ``values`` (config and secrets together) and put them on ``row``; returns what changed."""
    merged = apply_defaults(choice.config_schema, apply_derivation(choice.derivation, values))
    validate_config(choice.config_schema, merged)
    merged = confine_local_folder(merged, folder)
    public, secrets = split_secrets(choice.config_schema, merged)
    before = dict(row.config or {})
    row.config = public
    row.secret_names = sorted(secrets)
    row.secrets_sealed = box.seal_json(secrets, row.sealing_context) if secrets else None
    changed = sorted(k for k in public.keys() | before.keys() if public.get(k) != before.get(k))
    return public, changed


async def create_connection(
    session: AsyncSession,
    box: SecretBox,
    *,
    folder: Path,
    network: NetworkPolicy,
    tenant_id: uuid.UUID,
    partner_id: uuid.UUID,
    name: str,
    template_key: str,
    values: Mapping[str, Any],
    now: datetime,
) -> Connection:
    """``UnknownTemplateError`` or ``ConfigError`` (with paths) when the input is wrong,
    ``QuotaExceededError`` past the plan's hard limit. The retailer's connection count is metered in
    the same transaction, and its partner told when it reaches the soft limit."""
    before = await check_new_connection(session, tenant_id)
    choice = await resolve_template(session, partner_id, template_key)
    row = Connection(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=name,
        template_key=choice.template.key,
        partner_template_id=choice.partner_template.id if choice.partner_template else None,
    )
    _store(box, row, choice, values, folder)
    await check_addresses(network, row.config)
    session.add(row)
    await session.flush()
    await sample_connections(session, tenant_id, now)
    await connection_added(session, tenant_id, before, now)
    return row


async def delete_connection(session: AsyncSession, row: Connection, now: datetime) -> None:
    """Remove a connection (its sealed secrets with it) and meter the new count."""
    await session.delete(row)
    await session.flush()
    await sample_connections(session, row.tenant_id, now)


async def choice_of(session: AsyncSession, row: Connection, partner_id: uuid.UUID) -> TemplateChoice:
    if row.partner_template_id is None:
        return await resolve_template(session, partner_id, row.template_key)
    derived = await session.get(PartnerTemplate, row.partner_template_id)
    assert derived is not None  # the foreign key is RESTRICT
    return await resolve_template(session, partner_id, derived.key)


async def update_connection(
    session: AsyncSession,
    box: SecretBox,
    row: Connection,
    *,
    folder: Path,
    network: NetworkPolicy,
    partner_id: uuid.UUID,
    name: str | None,
    values: Mapping[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """Apply a partial change: given config keys replace old ones, ``None`` removes one; secrets not
    given are kept. Returns the audit ``changes`` (field names only for secrets)."""
    changes: dict[str, Any] = {}
    if name is not None and name != row.name:
        changes["name"] = {"before": row.name, "after": name}
        row.name = name
    if values is not None:
        choice = await choice_of(session, row, partner_id)
        secrets = read_secrets(box, row)
        token = secrets.pop(TOKEN_SECRET, None)
        current = {**row.config, **secrets}
        for key, value in values.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        for key in choice.derivation.locked:
            current.pop(key, None)  # re-applied from the partner's defaults
        _, changed = _store(box, row, choice, current, folder)
        await check_addresses(network, row.config)
        secret_changes = sorted(k for k in values if k in secret_fields(choice.config_schema))
        if token is not None and not secret_changes:
            # The OAuth2 token stays valid while the credentials that obtained it are unchanged.
            kept = read_secrets(box, row) | {TOKEN_SECRET: token}
            row.secrets_sealed = box.seal_json(kept, row.sealing_context)
        if changed:
            changes["config"] = changed
        if secret_changes:
            changes["secrets"] = secret_changes
    row.updated_at = now
    await session.flush()
    return changes


def network_policy(settings: Settings) -> NetworkPolicy:
    return NetworkPolicy(
        allow_private=settings.connector_allow_private, allowed_hosts=settings.connector_allowed_hosts
    )


def connector_context(
    settings: Settings,
    box: SecretBox,
    row: Connection,
    *,
    token_store: TokenStore | None = None,
    correlation_id: str | None = None,
) -> ConnectorContext:
    """The context a template instance runs with for ``row``; OAuth2 tokens go through ``token_store``."""
    secrets = read_secrets(box, row)
    secrets.pop(TOKEN_SECRET, None)
    context = ConnectorContext(
        config=row.config,
        secrets=secrets,
        key=str(row.id),
        network=network_policy(settings),
        correlation_id=correlation_id,
    )
    return context if token_store is None else replace(context, token_store=token_store)


async def run_connection_check(
    session: AsyncSession,
    settings: Settings,
    box: SecretBox,
    row: Connection,
    *,
    partner_id: uuid.UUID,
    now: datetime,
    token_store: TokenStore | None = None,
    correlation_id: str | None = None,
) -> ConnectionCheck:
    """The template's real ``test_connection`` against the remote system; the outcome is kept on the row."""
    choice = await choice_of(session, row, partner_id)
    context = connector_context(settings, box, row, token_store=token_store, correlation_id=correlation_id)
    try:
        template = choice.template(context)
    except ConnectorError as error:  # a stored config that no longer validates (template upgraded)
        check = ConnectionCheck(ok=False, detail=f"configuration no longer valid: {error}")
    else:
        async with template:
            check = await check_connection(template)
    row.last_checked_at = now
    row.last_check_ok = check.ok
    row.last_check_detail = check.detail
    await session.flush()
    return check


async def get_connection(
    session: AsyncSession, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection | None:
    return await session.scalar(
        select(Connection).where(Connection.tenant_id == tenant_id, Connection.id == connection_id)
    )


def effective_rate_limit(row: Connection, template: type[ConnectorTemplate]) -> RateLimit:
    """The rate agreed for this connection, else the template's default."""
    if row.rate_limit:
        return RateLimit(rate=float(row.rate_limit["rate"]), burst=int(row.rate_limit["burst"]))
    return template.rate_limit


def effective_batch_size(row: Connection, template: type[ConnectorTemplate]) -> int:
    """Records per write: the connection's own, never above what the template accepts."""
    return min(row.batch_size or template.batch_size, template.batch_size)
