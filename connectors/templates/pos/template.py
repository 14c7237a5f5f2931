"""The POS template (Square style): writes items, prices and stock counts; reads items, stock and locations.

Square refuses a whole batch for one bad object, so payloads are checked first (bad ones fail alone
and are not sent) and a batch Square still refuses is bisected so the good records go through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.sdk.auth import AuthKind, BearerAuth
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate
from connectors.templates.pos.batches import send_isolating
from connectors.templates.pos.catalog import Catalog
from connectors.templates.pos.inventory import Inventory
from connectors.templates.pos.payloads import PayloadError, Prepared, prepare

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["access_token"],
    "properties": {
        "base_url": {"type": "string", "title": "API endpoint", "default": "https://connect.squareup.com"},
        "access_token": {"type": "string", "minLength": 1, "writeOnly": True, "title": "Access token"},
        "square_version": {"type": "string", "default": "2025-01-23", "title": "Square-Version header"},
        "location_id": {
            "type": "string",
            "minLength": 1,
            "description": "Location for stock counts when a payload names none; reads are limited to it.",
        },
        "page_size": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    },
}


class PosTemplate(ConnectorTemplate):
    key = "pos"
    name = "Point of sale (Square)"
    kind = Kind.POS
    reads = frozenset({Domain.ITEMS, Domain.INVENTORY, Domain.LOCATIONS})
    writes = frozenset({Domain.ITEMS, Domain.PRICES, Domain.INVENTORY})
    config_schema = CONFIG_SCHEMA
    auth: ClassVar[tuple[AuthKind, ...]] = ("bearer",)
    rate_limit = RateLimit(rate=10, burst=20)
    # Square's batch-create takes at most 100 inventory changes; catalog batches share the cap.
    batch_size = 100

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        s = self.settings
        self._http = ConnectorHttp(
            context,
            base_url=s["base_url"],
            auth=BearerAuth(s["access_token"]),
            headers={"Square-Version": s["square_version"]},
        )
        self._catalog = Catalog(self._http, context, page_size=s["page_size"])
        self._inventory = Inventory(
            self._http, context, self._catalog, location_id=s.get("location_id"), page_size=s["page_size"]
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def test_connection(self) -> ConnectionCheck:
        body = await self._http.json("GET", "/v2/locations")
        locations = {str(loc.get("id")) for loc in body.get("locations") or []}
        wanted = self.settings.get("location_id")
        if wanted and wanted not in locations:
            listed = ", ".join(sorted(locations)) or "none"
            return ConnectionCheck(
                ok=False, detail=f"location {wanted} not found (the account has: {listed})"
            )
        return ConnectionCheck(ok=True, detail=f"{len(locations)} location(s) reachable")

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        if domain is Domain.LOCATIONS:
            body = await self._http.json("GET", "/v2/locations")
            yield ReadPage(records=list(body.get("locations") or []), cursor=None)
            return
        pages = self._catalog.pages(cursor) if domain is Domain.ITEMS else self._inventory.pages(cursor)
        async for page in pages:
            yield page

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        results: dict[int, WriteResult] = {}
        valid: list[Prepared] = []
        for index, payload in enumerate(payloads):
            try:
                valid.append(prepare(domain, index, payload, self.settings.get("location_id")))
            except PayloadError as error:
                sku = payload.get("sku") if isinstance(payload, Mapping) else None
                results[index] = WriteResult.failed(index, str(error), sku if isinstance(sku, str) else None)

        async def send(chunk: Sequence[Prepared]) -> list[WriteResult]:
            if domain is Domain.INVENTORY:
                return await self._inventory.set_counts(chunk)
            return await self._catalog.upsert(domain, chunk)

        for result in await send_isolating(valid, send):
            results[result.index] = result
        return [results[index] for index in range(len(payloads))]
