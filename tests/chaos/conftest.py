"""Fault-injection tests: the sync tests' retailer (API key, wiring through the API, a deliverer on the
test clock) reused, with a destination shop that knows enough SKUs for a load and records every write."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.sandboxes import rest
from connectors.sandboxes.rest import synthetic_sku
from tests.app.sync.conftest import Shop, deliverer, key
from tests.connectors.serving import serve

__all__ = ["SKUS", "deliverer", "key", "shop"]

SKUS = [synthetic_sku(n) for n in range(1, 61)]
"""The SKUs the chaos shop accepts writes for (``BENCH-0000001`` …)."""


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    """The REST sandbox as the destination, logging every stored write (resource, id, value, time)."""
    app = rest.create_app(skus=len(SKUS), record_writes=True)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as control:
        yield Shop(url, app.state.store, control)


def stock_writes(shop: Shop) -> list[tuple[str, int]]:
    """Every stock value the shop stored, in order: (sku, on_hand)."""
    writes = shop.store.writes or []
    return [(key.split(":")[0], value) for resource, key, value, _ in writes if resource == "stock"]
