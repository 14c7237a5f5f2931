"""Stripe sandbox tests: the sandbox on a loopback port and the real ``stripe`` SDK pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe

from connectors.sandboxes.stripe import create_app
from tests.connectors.serving import serve

API_KEY = "sk_test_shelfsync_sandbox"


def client_for(url: str, key: str = API_KEY, retries: int = 2) -> stripe.StripeClient:
    return stripe.StripeClient(
        key, base_addresses={"api": url}, http_client=stripe.HTTPXClient(), max_network_retries=retries
    )


@dataclass
class Sandbox:
    url: str
    app: Any
    sdk: stripe.StripeClient
    control: httpx.AsyncClient

    async def fault(self, **spec: Any) -> None:
        (await self.control.post("/_sandbox/faults", json=spec)).raise_for_status()

    async def requests_to(self, path: str) -> list[dict[str, Any]]:
        log = (await self.control.get("/_sandbox/requests")).json()
        return [entry for entry in log if entry["path"] == path]


async def serve_sandbox(**options: Any) -> AsyncIterator[Sandbox]:
    app = create_app(**options)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as control:
        yield Sandbox(url, app, client_for(url), control)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async for served in serve_sandbox():
        yield served
