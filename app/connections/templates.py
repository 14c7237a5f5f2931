"""Which templates a tenant may use: the built-ins, and its partner's derived templates over them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import PartnerTemplate
from connectors.registry import UnknownTemplateError, template_class, template_keys
from connectors.sdk.config import check_schema
from connectors.sdk.derived import Derivation, check_derivation, derived_schema
from connectors.sdk.errors import ConfigError
from connectors.sdk.template import ConnectorTemplate
from tenants.audit import Actor, record_audit


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    """A template as a tenant sees it: the class that runs, and the partner's derivation if any."""

    template: type[ConnectorTemplate]
    derivation: Derivation
    partner_template: PartnerTemplate | None = None

    @property
    def key(self) -> str:
        return self.partner_template.key if self.partner_template else self.template.key

    @property
    def config_schema(self) -> dict[str, Any]:
        return derived_schema(self.template.config_schema, self.derivation)

    def describe(self) -> dict[str, Any]:
        described = self.template.describe()
        described["config_schema"] = self.config_schema
        if self.partner_template is not None:
            described |= {
                "key": self.partner_template.key,
                "name": self.partner_template.name,
                "base_key": self.template.key,
                "locked": sorted(self.derivation.locked),
            }
        return described


def _of_partner_template(row: PartnerTemplate) -> TemplateChoice:
    derivation = Derivation(defaults=row.defaults, locked=frozenset(row.locked))
    return TemplateChoice(template_class(row.base_key), derivation, row)


async def resolve_template(session: AsyncSession, partner_id: uuid.UUID, key: str) -> TemplateChoice:
    """The partner's derived template called ``key``, else the built-in one; ``UnknownTemplateError``."""
    row = await session.scalar(
        select(PartnerTemplate).where(PartnerTemplate.partner_id == partner_id, PartnerTemplate.key == key)
    )
    if row is not None:
        return _of_partner_template(row)
    return TemplateChoice(template_class(key), Derivation())


async def available_templates(session: AsyncSession, partner_id: uuid.UUID) -> list[TemplateChoice]:
    derived = (
        await session.scalars(
            select(PartnerTemplate)
            .where(PartnerTemplate.partner_id == partner_id)
            .order_by(PartnerTemplate.key)
        )
    ).all()
    return [TemplateChoice(template_class(k), Derivation()) for k in template_keys()] + [
        _of_partner_template(row) for row in derived
    ]


async def derive_template(
    session: AsyncSession,
    actor: Actor,
    *,
    partner_id: uuid.UUID,
    key: str,
    name: str,
    base_key: str,
    defaults: dict[str, Any],
    locked: list[str],
) -> PartnerTemplate:
    """Publish a partner's derived template; ``ConfigError`` lists what is wrong with it."""
    try:
        base = template_class(base_key)
    except UnknownTemplateError:
        raise ConfigError(
            "unknown base template", [("base_key", f"no built-in template {base_key!r}")]
        ) from None
    if key in template_keys():
        raise ConfigError("key taken", [("key", f"{key!r} is a built-in template's key")])
    derivation = Derivation(defaults=defaults, locked=frozenset(locked))
    problems = check_derivation(base.config_schema, derivation)
    if problems:
        raise ConfigError("invalid derived template", problems)
    check_schema(derived_schema(base.config_schema, derivation))
    row = PartnerTemplate(
        partner_id=partner_id, key=key, name=name, base_key=base_key, defaults=defaults, locked=sorted(locked)
    )
    session.add(row)
    await session.flush()
    await record_audit(
        session,
        actor,
        action="partner_template.created",
        target_type="partner_template",
        target_id=row.id,
        partner_id=partner_id,
        changes={"after": {"key": key, "base_key": base_key, "defaults": defaults, "locked": sorted(locked)}},
    )
    return row
