"""Billing tests: the Stripe sandbox served in a thread, settings pointing the real SDK at it, a partner
set up in it hours ago, and its retailers' usage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from app.billing.service import ensure_billing_account, hour_floor
from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from app.metering.service import meter
from app.settings import Settings
from connectors.sandboxes.stripe import create_app as create_stripe_sandbox
from tests.app_cache import AppCache
from tests.connectors.serving import serve_in_thread
from tests.factories import World

API_KEY = "sk_test_shelfsync_platform"


@dataclass
class StripeSandbox:
    url: str
    control: httpx.Client
    webhook_secret: str

    def fault(self, **spec: Any) -> None:
        self.control.post("/_sandbox/faults", json=spec).raise_for_status()

    def summary(self, meter_id: str, customer: str, start: datetime, end: datetime) -> int:
        response = self.control.get(
            f"/v1/billing/meters/{meter_id}/event_summaries",
            params={
                "customer": customer,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
            },
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        response.raise_for_status()
        return int(sum(row["aggregated_value"] for row in response.json()["data"]))

    def deliveries(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.control.get("/_sandbox/stripe/deliveries").json()
        return rows


@pytest.fixture
def stripe_sandbox() -> Iterator[StripeSandbox]:
    # the tests' own reads share the key with the product, so Stripe's 25/s would be the tests' limit
    # too; the rate limit is tested in tests/connectors/stripe, 429s here are injected faults
    sandbox = create_stripe_sandbox(rate_limit=500.0)
    with serve_in_thread(sandbox) as url, httpx.Client(base_url=url) as control:
        # an endpoint nobody listens on: deliveries are recorded, signed, for the tests to hand over
        endpoint = control.post(
            "/v1/webhook_endpoints",
            data={"url": "http://127.0.0.1:9/hooks/stripe", "enabled_events[]": "*"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        endpoint.raise_for_status()
        yield StripeSandbox(url, control, endpoint.json()["secret"])


@pytest.fixture
def billing_settings(settings: Settings, stripe_sandbox: StripeSandbox) -> Settings:
    return replace(
        settings,
        stripe_api_key=API_KEY,
        stripe_api_base=stripe_sandbox.url,
        stripe_webhook_secret=stripe_sandbox.webhook_secret,
    )


@pytest.fixture
def app(apps: AppCache, billing_settings: Settings, clock: FrozenClock) -> Litestar:
    return apps.app(billing_settings, clock)


@pytest.fixture
async def billed(db: Database, billing_settings: Settings, world: World, clock: FrozenClock) -> Any:
    """Partner A, billed since four hours ago."""
    return await ensure_billing_account(
        db, billing_settings, world.partner_a.id, clock.now() - timedelta(hours=4)
    )


async def use(db: Database, tenant_id: uuid.UUID, kind: str, quantity: int, at: datetime) -> None:
    async with db.transaction(DbScope.system()) as session:
        await meter(session, tenant_id, kind, quantity, f"test-{uuid.uuid4()}", at)


def hours_ago(clock: FrozenClock, hours: int, minutes: int = 10) -> datetime:
    return hour_floor(clock.now()) - timedelta(hours=hours) + timedelta(minutes=minutes)
