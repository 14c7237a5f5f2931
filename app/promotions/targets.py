"""Where a promotion goes: every destination of the retailer's price flows (narrowed to the promotion's
channels, which name connections), in the configured order of connector kinds, with the stores a
store-file destination writes a file for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.connections.service import choice_of
from app.flows.models import Flow, FlowDestination
from app.flows.settings import Allocation
from app.inventory.models import StockLevel
from connectors.canonical import Promotion
from connectors.sdk.domains import Kind
from connectors.sdk.template import ConnectorTemplate

DEFAULT_SEQUENCE = ("file", "pos", "edi", "ecommerce", "marketplace")
"""Store price files first, then the tills, then the web shop, then the marketplaces."""
KINDS = frozenset(kind.value for kind in Kind)


@dataclass(frozen=True)
class DeployTarget:
    destination: FlowDestination
    flow: Flow
    connection: Connection
    template: type[ConnectorTemplate]

    @property
    def kind(self) -> str:
        return self.template.kind.value

    @property
    def has_stores(self) -> bool:
        """Store-file destinations take a file per store (or region): a price row per SKU and store."""
        return self.template.kind is Kind.FILE


def stage_of(kind: str, sequence: list[str]) -> int:
    """The kind's place in the sequence; kinds the sequence leaves out come after all it names."""
    order = sequence or list(DEFAULT_SEQUENCE)
    return order.index(kind) if kind in order else len(order)


async def price_targets(
    session: AsyncSession, tenant_id: uuid.UUID, partner_id: uuid.UUID, channels: list[str]
) -> list[DeployTarget]:
    """One target per connection the retailer's enabled price flows deliver to (the first flow's
    destination where several flows reach the same connection)."""
    rows = (
        await session.execute(
            select(FlowDestination, Flow, Connection)
            .join(Flow, Flow.id == FlowDestination.flow_id)
            .join(Connection, Connection.id == FlowDestination.connection_id)
            .where(Flow.tenant_id == tenant_id, Flow.domain == "prices", Flow.is_enabled.is_(True))
            .order_by(Flow.created_at, FlowDestination.position, FlowDestination.id)
        )
    ).all()
    found: dict[uuid.UUID, DeployTarget] = {}
    for destination, flow, connection in rows:
        if connection.id in found or (channels and connection.name not in channels):
            continue
        template = (await choice_of(session, connection, partner_id)).template
        found[connection.id] = DeployTarget(destination, flow, connection, template)
    return list(found.values())


async def target_of(
    session: AsyncSession, destination_id: uuid.UUID, partner_id: uuid.UUID
) -> DeployTarget | None:
    row = (
        await session.execute(
            select(FlowDestination, Flow, Connection)
            .join(Flow, Flow.id == FlowDestination.flow_id)
            .join(Connection, Connection.id == FlowDestination.connection_id)
            .where(FlowDestination.id == destination_id)
        )
    ).first()
    if row is None:
        return None
    destination, flow, connection = row
    template = (await choice_of(session, connection, partner_id)).template
    return DeployTarget(destination, flow, connection, template)


async def stores_of(
    session: AsyncSession, tenant_id: uuid.UUID, target: DeployTarget, promotion: Promotion
) -> list[str]:
    """The stores a store-file destination writes for: the destination's own locations (its allocation)
    that the promotion is eligible at; without either list, every location stock is known at."""
    own = msgspec.convert(target.destination.allocation or {}, Allocation).locations
    eligible = promotion.eligibility.locations
    if own and eligible:
        return [store for store in own if store in set(eligible)]
    if own or eligible:
        return list(own or eligible)
    known = await session.scalars(
        select(StockLevel.location).where(StockLevel.tenant_id == tenant_id).distinct()
    )
    return sorted(known.all())
