"""Putting a promotion's prices (or the regular ones) on one destination, and reading them back.

Writes go through the destination's own outbound recipe and template, as every delivery does, under the
connection's shared rate limit. A store-file destination gets one write per store, so each store's file
holds all its rows. Verification reads the destination back (a store-file drop: its newest file per
store) and compares every price it should hold.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from app.connections.readback import CannotReadBackError, read_records
from app.connections.runtime import worker_context
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.promotions.pricing import PriceKey
from app.promotions.targets import DeployTarget
from app.recipes.service import version_spec
from app.settings import Settings
from connectors.canonical import Price
from connectors.delivery import deliver_batch
from connectors.recipes import compile_recipe
from connectors.sdk.domains import Domain
from tenants.models import Tenant

MAX_REASONS = 5
STORE_WRITES_AT_ONCE = 8
"""Store files written concurrently on one destination (each is its own file, so order is free)."""


class DeploymentError(Exception):
    """A deployment attempt that did not land: some prices refused, or the read-back disagreed."""


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    box: SecretBox


async def write_prices(
    runtime: Runtime,
    tenant: Tenant,
    target: DeployTarget,
    groups: dict[str | None, list[Price]],
    correlation_id: str | None,
) -> int:
    """Send every group; the number of prices written, or ``DeploymentError`` naming refused ones."""
    async with runtime.db.transaction(DbScope.system()) as session:
        spec = await version_spec(session, target.destination.recipe_id, target.destination.recipe_version)
    recipe = compile_recipe(spec)
    context = worker_context(
        runtime.settings,
        runtime.db,
        runtime.redis,
        runtime.box,
        target.connection,
        tenant,
        target.template,
        correlation_id,
    )
    refused: list[str] = []
    written = 0
    gate = asyncio.Semaphore(STORE_WRITES_AT_ONCE)
    async with target.template(context) as template:

        async def send(records: list[Price]) -> None:
            nonlocal written
            async with gate:
                results = await deliver_batch(template, Domain.PRICES, records, recipe)
            for record, result in zip(records, results, strict=True):
                if result.status == "ok":
                    written += 1
                elif result.status == "failed":
                    refused.append(f"{record.sku}: {result.error}")

        await asyncio.gather(*(send(records) for records in groups.values() if records))
    if refused:
        raise DeploymentError(f"{len(refused)} price(s) refused: " + "; ".join(refused[:MAX_REASONS]))
    return written


async def verify_prices(
    runtime: Runtime,
    tenant: Tenant,
    target: DeployTarget,
    expected: dict[PriceKey, Decimal],
    correlation_id: str | None,
) -> bool:
    """Read the destination back: True when every expected price is there, False when the destination
    cannot be read back; ``DeploymentError`` listing what differs otherwise."""
    try:
        found: list[Any] = await read_records(
            runtime.settings,
            runtime.db,
            runtime.redis,
            tenant,
            target.connection,
            target.template,
            Domain.PRICES.value,
            correlation_id,
            written=True,
        )
    except CannotReadBackError:
        return False
    seen: dict[PriceKey, Decimal] = {}
    for price in found:
        if isinstance(price, Price) and price.price_list == "default":
            seen[(price.sku, price.channel if target.has_stores else None)] = price.amount
    wrong = [
        f"{sku}{'@' + store if store else ''}: expected {amount}, found {seen.get((sku, store))}"
        for (sku, store), amount in expected.items()
        if seen.get((sku, store)) != amount
    ]
    if wrong:
        raise DeploymentError(
            f"read-back found {len(wrong)} of {len(expected)} price(s) wrong: "
            + "; ".join(wrong[:MAX_REASONS])
        )
    return True
