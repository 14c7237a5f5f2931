"""Who a database transaction acts for; row-level security policies read it from ``app.*`` settings.

Every transaction begins by writing the scope with ``set_config(..., is_local => true)``, so it ends
with the transaction and a pooled connection never carries one tenant's scope into another's work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

ScopeKind = Literal["anonymous", "user", "tenant", "partner", "platform", "system"]


@dataclass(frozen=True, slots=True)
class DbScope:
    """The tenant, partner and user a transaction acts for.

    ``system`` is for Shelfsync's own bookkeeping (resolving an API key, relaying the outbox);
    ``platform`` for the platform operator; ``partner`` sees the partner's tenants; ``tenant`` one
    tenant; ``user`` only the user's own identity rows; ``anonymous`` nothing tenant-owned.
    """

    kind: ScopeKind
    tenant_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    read_only: bool = False

    @classmethod
    def system(cls) -> DbScope:
        return cls(kind="system")

    @classmethod
    def anonymous(cls) -> DbScope:
        return cls(kind="anonymous")

    @classmethod
    def for_tenant(
        cls,
        tenant_id: uuid.UUID,
        partner_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        *,
        read_only: bool = False,
    ) -> DbScope:
        return cls("tenant", tenant_id, partner_id, user_id, read_only)

    def settings(self) -> dict[str, str]:
        """The ``app.*`` settings this scope writes at the start of each transaction."""
        return {
            "app.scope": self.kind,
            "app.tenant_id": str(self.tenant_id or ""),
            "app.partner_id": str(self.partner_id or ""),
            "app.user_id": str(self.user_id or ""),
            "app.read_only": "on" if self.read_only else "off",
        }


_SET_SCOPE = text(
    "SELECT set_config('app.scope', :scope, true), set_config('app.tenant_id', :tenant, true),"
    " set_config('app.partner_id', :partner, true), set_config('app.user_id', :user, true),"
    " set_config('app.read_only', :read_only, true)"
)


@event.listens_for(Session, "after_begin")
def _apply_scope(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    """Write the session's scope into the transaction that just began (anonymous when unset)."""
    scope: DbScope = session.info.get("scope") or DbScope.anonymous()
    values = scope.settings()
    connection.execute(
        _SET_SCOPE,
        {
            "scope": values["app.scope"],
            "tenant": values["app.tenant_id"],
            "partner": values["app.partner_id"],
            "user": values["app.user_id"],
            "read_only": values["app.read_only"],
        },
    )
