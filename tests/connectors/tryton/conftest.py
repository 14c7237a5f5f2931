"""Tryton tests: one real trytond for the session (on a copy of the cached database), a raw JSON-RPC
client to check what the connector wrote, and templates pointed at the server or at a fault proxy."""

from __future__ import annotations

import base64
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors.peers.tryton import TrytonPeer, running_tryton
from connectors.sdk.context import ConnectorContext
from connectors.sdk.network import NetworkPolicy
from connectors.templates.tryton.template import TrytonTemplate
from tests.connectors.recording import RecordingSleep


def decimal(text: str) -> dict[str, str]:
    return {"__class__": "Decimal", "decimal": text}


class RawTryton:
    """Plain httpx + JSON, independent of the connector's client: the witness for read-backs."""

    def __init__(self, peer: TrytonPeer) -> None:
        self._url = f"{peer.base_url}/{peer.database}/rpc/"
        self._client = httpx.AsyncClient(timeout=60)
        self._peer = peer
        self.context: dict[str, Any] = {}

    async def login(self) -> None:
        user_id, session = (
            await self.call("common.db.login", self._peer.username, {"password": self._peer.password})
        )[:2]
        token = base64.b64encode(f"{self._peer.username}:{user_id}:{session}".encode()).decode()
        self._client.headers["Authorization"] = f"Session {token}"
        company = (await self.call("model.res.user.get_preferences", True, {}))["company"]
        self.context = {"company": company}

    async def call(self, method: str, *params: Any) -> Any:
        answer = (
            await self._client.post(self._url, json={"id": 1, "method": method, "params": list(params)})
        ).json()
        assert "error" not in answer, answer
        return answer["result"]

    async def model(self, model: str, method: str, *params: Any) -> Any:
        return await self.call(f"model.{model}.{method}", *params, self.context)

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class Catalog:
    """Products made for this test session; codes carry a unique prefix so reruns never collide."""

    prefix: str
    codes: list[str]
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_code(self) -> str:
        return f"{self.prefix}-X{next(self.counter)}"


@pytest.fixture(scope="session")
async def tryton_peer() -> AsyncIterator[TrytonPeer]:
    started = time.perf_counter()
    async with running_tryton() as peer:
        print(f"\ntrytond (cached database) answered after {time.perf_counter() - started:.1f} s")
        yield peer


@pytest.fixture(scope="session")
async def raw(tryton_peer: TrytonPeer) -> AsyncIterator[RawTryton]:
    client = RawTryton(tryton_peer)
    await client.login()
    yield client
    await client.aclose()


async def create_product(raw: RawTryton, code: str, price: str = "10.00") -> int:
    uom = (await raw.model("product.uom", "search", [["symbol", "=", "u"]], 0, 1, None))[0]
    await raw.model(
        "product.template",
        "create",
        [
            {
                "name": f"Product {code}",
                "type": "goods",
                "salable": True,
                "default_uom": uom,
                "sale_uom": uom,
                "list_price": decimal(price),
                "products": [["create", [{"suffix_code": code}]]],
            }
        ],
    )
    found = await raw.model("product.product", "search", [["code", "=", code]], 0, 1, None)
    return int(found[0])


@pytest.fixture(scope="session")
async def catalog(raw: RawTryton) -> Catalog:
    prefix = f"T{uuid.uuid4().hex[:6].upper()}"
    codes = [f"{prefix}-{n}" for n in range(1, 7)]
    for code in codes:
        await create_product(raw, code)
    return Catalog(prefix, codes)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_template(tryton_peer: TrytonPeer, sleeps: RecordingSleep) -> Any:
    def make(
        *, base_url: str | None = None, password: str | None = None, max_attempts: int = 3, **config: Any
    ) -> TrytonTemplate:
        context = ConnectorContext(
            config={
                "base_url": base_url or tryton_peer.base_url,
                "database": tryton_peer.database,
                "username": tryton_peer.username,
                **config,
            },
            secrets={"password": password or tryton_peer.password},
            network=NetworkPolicy.permissive(),
            sleep=sleeps,
            max_attempts=max_attempts,
        )
        return TrytonTemplate(context)

    return make


async def quantity_of(raw: RawTryton, code: str) -> float:
    warehouse = (
        await raw.model(
            "stock.location", "search_read", [["code", "=", "WH"]], 0, 1, None, ["storage_location"]
        )
    )[0]
    product = (await raw.model("product.product", "search", [["code", "=", code]], 0, 1, None))[0]
    context = {**raw.context, "locations": [warehouse["storage_location"]]}
    rows = await raw.call("model.product.product.read", [product], ["quantity"], context)
    return float(rows[0]["quantity"])
