"""The five roles and what each may do; the single place a role's reach is defined."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A membership's role. Platform roles hang off nothing, partner roles off a partner,
    retailer roles off a tenant."""

    PLATFORM_ADMIN = "platform_admin"
    PARTNER_ADMIN = "partner_admin"
    PARTNER_OPERATOR = "partner_operator"
    RETAILER_ADMIN = "retailer_admin"
    RETAILER_VIEWER = "retailer_viewer"

    @property
    def level(self) -> str:
        """``platform``, ``partner`` or ``tenant``: what the membership must point at."""
        if self is Role.PLATFORM_ADMIN:
            return "platform"
        if self in (Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR):
            return "partner"
        return "tenant"

    @property
    def can_write(self) -> bool:
        """Whether the role changes anything at all (viewers only read)."""
        return self is not Role.RETAILER_VIEWER

    @property
    def can_manage_users(self) -> bool:
        """Whether the role invites users, sets roles and manages API keys in its reach."""
        return self in (Role.PLATFORM_ADMIN, Role.PARTNER_ADMIN, Role.RETAILER_ADMIN)

    @property
    def can_brand(self) -> bool:
        """Whether the role edits a partner's branding."""
        return self in (Role.PLATFORM_ADMIN, Role.PARTNER_ADMIN)
