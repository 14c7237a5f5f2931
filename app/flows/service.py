"""Creating and changing flows: every reference is checked against the tenant's own connections and
recipes, and each template must be able to write the flow's domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connections.models import Connection
from app.connections.service import choice_of
from app.flows.models import Flow, FlowDestination
from app.flows.settings import Allocation, FlowSettings
from app.recipes.models import Recipe
from connectors.sdk.domains import Domain

Problems = list[tuple[str, str]]


class FlowRejectedError(Exception):
    def __init__(self, problems: Problems) -> None:
        super().__init__("flow rejected")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    connection_id: uuid.UUID
    recipe_id: uuid.UUID
    recipe_version: int | None = None
    allocation: dict[str, Any] | None = None


def convert_or_note(kind: type[Any], value: Any, path: str, problems: Problems) -> Any:
    try:
        return msgspec.convert(value or {}, kind)
    except msgspec.ValidationError as error:
        problems.append((path, str(error)))
        return None


async def check_destinations(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    partner_id: uuid.UUID,
    domain: str,
    specs: list[DestinationSpec],
) -> Problems:
    problems: Problems = []
    seen: set[uuid.UUID] = set()
    for index, spec in enumerate(specs):
        where = f"destinations[{index}]"
        if spec.connection_id in seen:
            problems.append((f"{where}.connection_id", "the same connection twice"))
        seen.add(spec.connection_id)
        connection = await session.scalar(
            select(Connection).where(Connection.tenant_id == tenant_id, Connection.id == spec.connection_id)
        )
        if connection is None:
            problems.append((f"{where}.connection_id", "no such connection"))
        else:
            template = (await choice_of(session, connection, partner_id)).template
            if Domain(domain) not in template.writes:
                problems.append((f"{where}.connection_id", f"{template.name} cannot write {domain}"))
        recipe = await session.scalar(
            select(Recipe).where(Recipe.tenant_id == tenant_id, Recipe.id == spec.recipe_id)
        )
        if recipe is None:
            problems.append((f"{where}.recipe_id", "no such recipe"))
        elif recipe.direction != "outbound" or recipe.domain != domain:
            problems.append(
                (
                    f"{where}.recipe_id",
                    f"needs an outbound {domain} recipe, not {recipe.direction} {recipe.domain}",
                )
            )
        elif spec.recipe_version is not None and not 1 <= spec.recipe_version <= recipe.latest_version:
            problems.append((f"{where}.recipe_version", f"recipe has versions 1 to {recipe.latest_version}"))
        convert_or_note(Allocation, spec.allocation, f"{where}.allocation", problems)
    return problems


async def create_flow(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    partner_id: uuid.UUID,
    name: str,
    domain: str,
    trigger: str,
    settings: dict[str, Any] | None,
    destinations: list[DestinationSpec],
) -> Flow:
    problems: Problems = []
    if domain not in ("inventory", "prices", "orders"):
        problems.append(("domain", "flows of inventory, prices and orders run today"))
    if trigger not in ("event", "manual"):
        problems.append(("trigger", "event or manual (scheduled pulls are not built yet)"))
    checked_settings = convert_or_note(FlowSettings, settings, "settings", problems)
    if not destinations:
        problems.append(("destinations", "at least one destination"))
    if not problems:
        problems += await check_destinations(session, tenant_id, partner_id, domain, destinations)
    if await session.scalar(select(Flow.id).where(Flow.tenant_id == tenant_id, Flow.name == name)):
        problems.append(("name", f"a flow named {name!r} exists"))
    if problems:
        raise FlowRejectedError(problems)
    flow = Flow(
        tenant_id=tenant_id,
        name=name,
        domain=domain,
        trigger=trigger,
        settings=msgspec.to_builtins(checked_settings),
    )
    session.add(flow)
    await session.flush()
    for position, spec in enumerate(destinations):
        session.add(
            FlowDestination(
                tenant_id=tenant_id,
                flow_id=flow.id,
                connection_id=spec.connection_id,
                recipe_id=spec.recipe_id,
                recipe_version=spec.recipe_version,
                allocation=spec.allocation or {},
                position=position,
            )
        )
    await session.flush()
    return flow


async def flow_destinations(session: AsyncSession, flow_id: uuid.UUID) -> list[FlowDestination]:
    return list(
        (
            await session.scalars(
                select(FlowDestination)
                .where(FlowDestination.flow_id == flow_id)
                .order_by(FlowDestination.position)
            )
        ).all()
    )
