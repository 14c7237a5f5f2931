"""Creating and changing flows: every reference is checked against the tenant's own connections and
recipes, and each template must be able to write the flow's domain."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from cronsim import CronSim, CronSimError
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


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where a flow's records come from when not from ``/api/v1/events``: a connection it reads (or
    that pushes to ``/hooks/{connection_id}``) and the inbound recipe that makes them canonical."""

    connection_id: uuid.UUID
    recipe_id: uuid.UUID


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time after ``after`` that ``schedule`` (a five-field cron expression, UTC) fires."""
    return next(CronSim(schedule, after.astimezone(UTC)))


async def check_source(
    session: AsyncSession, tenant_id: uuid.UUID, partner_id: uuid.UUID, domain: str, source: SourceSpec
) -> Problems:
    problems: Problems = []
    connection = await session.scalar(
        select(Connection).where(Connection.tenant_id == tenant_id, Connection.id == source.connection_id)
    )
    if connection is None:
        problems.append(("source.connection_id", "no such connection"))
    else:
        template = (await choice_of(session, connection, partner_id)).template
        if Domain(domain) not in template.reads:
            problems.append(("source.connection_id", f"{template.name} cannot read {domain}"))
    recipe = await session.scalar(
        select(Recipe).where(Recipe.tenant_id == tenant_id, Recipe.id == source.recipe_id)
    )
    if recipe is None:
        problems.append(("source.recipe_id", "no such recipe"))
    elif recipe.direction != "inbound" or recipe.domain != domain:
        problems.append(
            ("source.recipe_id", f"needs an inbound {domain} recipe, not {recipe.direction} {recipe.domain}")
        )
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
    source: SourceSpec | None = None,
    schedule: str | None = None,
    now: datetime | None = None,
) -> Flow:
    problems: Problems = []
    if domain not in ("items", "inventory", "prices", "orders"):
        problems.append(("domain", "flows of items, inventory, prices and orders run today"))
    if trigger not in ("event", "schedule", "manual"):
        problems.append(("trigger", "one of event, schedule, manual"))
    next_run_at = None
    if trigger == "schedule":
        if source is None:
            problems.append(("source", "a scheduled flow reads a source connection"))
        try:
            next_run_at = next_run(schedule or "", now or datetime.now(UTC))
        except (CronSimError, ValueError) as error:
            problems.append(("schedule", f"not a cron expression (minute hour day month weekday): {error}"))
    checked_settings = convert_or_note(FlowSettings, settings, "settings", problems)
    if not destinations:
        problems.append(("destinations", "at least one destination"))
    if not problems:
        problems += await check_destinations(session, tenant_id, partner_id, domain, destinations)
        if source is not None:
            problems += await check_source(session, tenant_id, partner_id, domain, source)
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
        source_connection_id=source.connection_id if source else None,
        source_recipe_id=source.recipe_id if source else None,
        schedule=schedule if trigger == "schedule" else None,
        next_run_at=next_run_at,
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
