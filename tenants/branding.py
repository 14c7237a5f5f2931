"""White-label: which partner a request host belongs to, and the brand it shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenants.models import Partner


@dataclass(frozen=True, slots=True)
class Brand:
    """What a page needs to look like its partner's (or the platform's, when there is none)."""

    partner_id: str | None
    slug: str | None
    name: str
    logo_url: str | None
    favicon_url: str | None
    primary_color: str
    accent_color: str
    support_email: str | None
    footer_text: str | None
    custom_domain: str | None = None

    def hostname(self, base_domain: str) -> str:
        """Where this brand's portal lives: its custom domain, ``{slug}.{base}``, or the base domain."""
        if self.custom_domain:
            return self.custom_domain
        return f"{self.slug}.{base_domain}" if self.slug else base_domain

    @classmethod
    def of(cls, partner: Partner) -> Brand:
        return cls(
            str(partner.id),
            partner.slug,
            partner.name,
            partner.logo_url,
            partner.favicon_url,
            partner.primary_color,
            partner.accent_color,
            partner.support_email,
            partner.footer_text,
            partner.custom_domain,
        )


PLATFORM_BRAND = Brand(None, None, "Shelfsync", None, None, "#24324a", "#2f9e74", None, None)


def partner_slug_from_host(host: str, base_domain: str) -> str | None:
    """``acme`` for ``acme.<base_domain>[:port]``; None for the base domain itself or other hosts."""
    hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    suffix = "." + base_domain
    if hostname.endswith(suffix):
        label = hostname[: -len(suffix)]
        if label and "." not in label:
            return label
    return None


async def resolve_partner(
    session: AsyncSession, host: str, base_domain: str, override: str | None = None
) -> Partner | None:
    """The partner for a request: a development override, a custom domain, or a subdomain."""
    if override:
        return await session.scalar(select(Partner).where(Partner.slug == override))
    hostname = host.rsplit(":", 1)[0].lower()
    partner = await session.scalar(select(Partner).where(Partner.custom_domain == hostname))
    if partner is not None:
        return partner
    slug = partner_slug_from_host(host, base_domain)
    if slug is None:
        return None
    return await session.scalar(select(Partner).where(Partner.slug == slug))
