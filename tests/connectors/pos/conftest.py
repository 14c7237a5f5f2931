"""POS tests: the Square-style sandbox on a loopback port, and templates pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from connectors.sandboxes.pos import create_app
from connectors.sdk.context import ConnectorContext
from connectors.sdk.network import NetworkPolicy
from connectors.templates.pos.template import PosTemplate
from tests.connectors.recording import RecordingClock
from tests.connectors.serving import serve

TOKEN = "sandbox-square-token"


@dataclass
class Sandbox:
    url: str
    clock: RecordingClock

    def template(
        self, *, max_attempts: int = 3, correlation_id: str | None = None, **config: Any
    ) -> PosTemplate:
        settings = {"base_url": self.url, "location_id": "L-MAIN", "page_size": 100, **config}
        context = ConnectorContext(
            config=settings,
            secrets={"access_token": settings.pop("access_token", TOKEN)},
            key="pos-test",
            network=NetworkPolicy.permissive(),
            sleep=self.clock.sleep,
            max_attempts=max_attempts,
            correlation_id=correlation_id,
        )
        return PosTemplate(context)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.request(method, path, json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    async def fault(self, **spec: Any) -> None:
        await self.control("POST", "/_sandbox/faults", spec)

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.control("GET", "/_sandbox/pos/state")
        return state

    async def variations(self) -> dict[str, dict[str, Any]]:
        """Variation data by SKU, from the sandbox's own view."""
        return {
            v["item_variation_data"]["sku"]: v["item_variation_data"]
            for item in (await self.state())["items"]
            for v in item["item_data"]["variations"]
        }


SandboxFactory = Callable[..., AbstractAsyncContextManager[Sandbox]]


@pytest.fixture
def pos() -> SandboxFactory:
    """``async with pos(**sandbox_options) as sandbox``."""

    @asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[Sandbox]:
        clock = RecordingClock()
        async with serve(create_app(clock=clock.monotonic, **options)) as url:
            yield Sandbox(url, clock)

    return start


def seed_items(count: int, *, amount: int = 500) -> list[dict[str, Any]]:
    return [{"sku": f"SKU-{n}", "name": f"Item {n}", "amount": amount} for n in range(1, count + 1)]
