"""A seeded June 2026 for retailer a1 (with noise around it that must not count), and what its SLA
report and invoice come to, worked out by hand in the comments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from app.database.engine import Database
from app.database.scope import DbScope
from app.flows.latency import histogram
from app.flows.models import Flow, Run
from app.metering.models import UsageEvent
from app.plans.models import Plan
from app.promotions.models import PromotionDeployment, PromotionEntry
from tenants.models import Tenant
from tests import factories
from tests.app.portal.sync_facts import SCOPES, wire_flow
from tests.factories import World

JUNE = datetime(2026, 6, 1, tzinfo=UTC)

GOLD = {
    "name": "Gold",
    "objectives": [
        {"key": "inventory_latency_p95_s", "target": 60, "credit_percent": 5},
        {"key": "success_rate", "target": 98.5, "credit_percent": 5},
        {"key": "promotions_on_time", "target": 99.9, "credit_percent": 10, "within_seconds": 60},
    ],
    "rate_card": {
        "currency": "EUR",
        "base_fee": "100.00",
        "credit_cap_percent": 12,
        "meters": [
            {
                "meter": "records_synced",
                "included": 1000,
                "tiers": [{"up_to": 2000, "unit_price": "0.01"}, {"up_to": None, "unit_price": "0.005"}],
            },
            {"meter": "api_calls", "included": 0, "tiers": [{"up_to": None, "unit_price": "0.001"}]},
        ],
    },
}


@dataclass(frozen=True)
class SeededMonth:
    inventory_flow: uuid.UUID
    price_flow: uuid.UUID
    destination: uuid.UUID


def _run(tenant_id: uuid.UUID, flow_id: uuid.UUID, at: datetime, latencies: list[float], failed: int) -> Run:
    run = Run.begin(tenant_id=tenant_id, flow_id=flow_id, kind="delivery", started_at=at)
    run.written_count, run.failed_count = len(latencies), failed
    run.details = {"latency_ms": histogram(latencies)}
    run.status, run.finished_at = "succeeded", at + timedelta(seconds=2)
    return run


def _promotion(tenant_id: uuid.UUID, code: str, starts_at: datetime) -> PromotionEntry:
    return PromotionEntry(
        tenant_id=tenant_id,
        code=code,
        spec={},
        state="active",
        proposed_by="seed",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(days=3),
    )


async def seed_june(client: httpx.AsyncClient, world: World, db: Database) -> SeededMonth:
    """June for a1:
    - inventory runs: 900 records at 30 s and 100 at 120 s → the 950th of 1,000 is a 120 s one; its
      bucket's upper edge is 1.1^123 ms = 123,395.8 ms ≈ 123.40 s > 60 s: **breached**, credit 5 %;
    - a price run: 3,950 records taken and 50 refused → with the inventory runs 4,950 of 5,000 =
      **99.00 %** ≥ 98.5 %: met;
    - a promotion opening 10 June with four destinations live after 5, 20, 59 and 75 s, and a fifth
      paused before it opened → 3 of 4 on time = **75.00 %** < 99.9 %: **breached**, credit 10 %;
    - total credit 5 + 10 = 15 %, capped at **12 %**.
    Noise that must not count: a May run and a July promotion of a1, and a June run of a2.
    """
    key = await factories.make_api_key(db, world.tenant_a1, SCOPES)
    key_a2 = await factories.make_api_key(db, world.tenant_a2, SCOPES)
    inventory_flow, destination = await wire_flow(client, key, "stock to the web")
    price_flow, _ = await wire_flow(client, key, "prices to the web")
    other_flow, _ = await wire_flow(client, key_a2, "a2 stock")
    a1, a2 = world.tenant_a1.id, world.tenant_a2.id
    async with db.transaction(DbScope.system()) as session:
        session.add(Plan(partner_id=world.partner_a.id, key="gold", terms=GOLD))
        await session.flush()
        tenant = await session.get(Tenant, a1)
        assert tenant is not None
        tenant.plan = "gold"
        # wire_flow sets up stock flows; this one carries prices (its runs count for success, not latency)
        await session.execute(update(Flow).where(Flow.id == price_flow).values(domain="prices"))
        session.add_all(
            [
                _run(a1, inventory_flow, JUNE + timedelta(days=2), [30_000.0] * 900, 0),
                _run(a1, inventory_flow, JUNE + timedelta(days=20), [120_000.0] * 100, 0),
                _run(a1, price_flow, JUNE + timedelta(days=5), [500.0] * 3950, 50),
                _run(a1, inventory_flow, JUNE - timedelta(days=3), [900_000.0] * 500, 500),
                _run(a2, other_flow, JUNE + timedelta(days=4), [900_000.0] * 100, 900),
            ]
        )
        june_sale = _promotion(a1, "JUNE-SALE", JUNE + timedelta(days=9))
        july_sale = _promotion(a1, "JULY-SALE", JUNE + timedelta(days=30))
        session.add_all([june_sale, july_sale])
        await session.flush()
        for n, lateness in enumerate((5_000, 20_000, 59_000, 75_000, None, 500_000)):
            promotion = july_sale if n == 5 else june_sale
            session.add(
                PromotionDeployment(
                    tenant_id=a1,
                    promotion_id=promotion.id,
                    destination_id=destination if n in (0, 5) else await _destination(client, key, n),
                    connection_name=f"shop {n}",
                    kind="ecommerce",
                    stage=1,
                    status="paused" if lateness is None else "verified",
                    lateness_ms=lateness,
                )
            )
        # usage: 5,950 records synced and 12,345 API calls in June (and some in May, not billed)
        for kind, quantity, at in (
            ("records_synced", 5000, JUNE + timedelta(days=3)),
            ("records_synced", 950, JUNE + timedelta(days=29, hours=23)),
            ("api_calls", 12_345, JUNE + timedelta(days=14)),
            ("records_synced", 777, JUNE - timedelta(seconds=1)),
        ):
            session.add(
                UsageEvent(
                    tenant_id=a1,
                    kind=kind,
                    quantity=quantity,
                    idempotency_key=f"seed:{kind}:{at}",
                    occurred_at=at,
                )
            )
    return SeededMonth(inventory_flow, price_flow, destination)


async def _destination(client: httpx.AsyncClient, key: str, n: int) -> uuid.UUID:
    """Another destination (each deployment has its own)."""
    _, destination = await wire_flow(client, key, f"prices to shop {n}")
    return destination


EXPECTED_OBJECTIVES = [
    # key, measured (hand-computed above), samples, breached, credit
    ("inventory_latency_p95_s", 123.4, 1000, True, 5.0),
    ("success_rate", 99.0, 5000, False, 0.0),
    ("promotions_on_time", 75.0, 4, True, 10.0),
]
EXPECTED_CREDIT = 12.0
# Invoice: base 100.00; records 5,950 − 1,000 included = 4,950 billable: 2,000 × 0.01 = 20.00 and
# 2,950 × 0.005 = 14.75 → 34.75; API calls 12,345 × 0.001 = 12.345 → 12.35 (half up); subtotal 147.10;
# credit 12 % = 17.652 → 17.65; total 129.45.
EXPECTED_INVOICE = {"subtotal": "147.10", "credit": "17.65", "total": "129.45"}
