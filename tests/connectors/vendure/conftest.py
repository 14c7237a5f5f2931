"""Vendure tests: one real Vendure for the session, seeded through its Admin API; a raw GraphQL
client to check what the connector wrote; templates pointed at the server or at a fault proxy."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connectors.peers.vendure import VendurePeer, running_vendure
from connectors.sdk.context import ConnectorContext
from connectors.sdk.network import NetworkPolicy
from connectors.templates.vendure.template import VendureTemplate
from tests.connectors.recording import RecordingSleep

SKUS = [f"VND-{n:03d}" for n in range(1, 13)]
"""Twelve variants created in one call: they share one ``updatedAt``, which the reads must cope with."""
CURRENCY = "EUR"


class RawVendure:
    """Plain httpx against one Vendure API, independent of the connector's client: the witness."""

    def __init__(self, url: str) -> None:
        self._client = httpx.AsyncClient(base_url=url, timeout=60)
        self._token: str | None = None

    async def login(self, username: str, password: str) -> None:
        await self.query(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { __typename } }",
            u=username,
            p=password,
        )

    async def query(self, document: str, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        response = await self._client.post(
            "", json={"query": document, "variables": variables}, headers=headers
        )
        # Vendure hands out (and renews) the session token in this header, for admins and shoppers alike.
        self._token = response.headers.get("vendure-auth-token", self._token)
        body = response.json()
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def variant(self, sku: str) -> dict[str, Any]:
        data = await self.query(
            """query($sku: String!) { productVariants(options: { filter: { sku: { eq: $sku } } }) {
                 items { id sku price currencyCode stockOnHand updatedAt } } }""",
            sku=sku,
        )
        items = data["productVariants"]["items"]
        assert len(items) == 1, items
        return dict(items[0])

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class SeededVendure:
    peer: VendurePeer
    admin: RawVendure
    variant_ids: dict[str, str]
    shipping_method_id: str
    orders: list[str] = field(default_factory=list)

    async def place_order(self, sku: str, quantity: int = 1) -> str:
        """A shopper's checkout through the Shop API, paid with the dummy handler; returns the order code."""
        shop = RawVendure(self.peer.shop_url)
        try:
            added = await shop.query(
                """mutation($id: ID!, $q: Int!) { addItemToOrder(productVariantId: $id, quantity: $q) {
                     __typename ... on Order { code } ... on ErrorResult { message } } }""",
                id=self.variant_ids[sku],
                q=quantity,
            )
            assert added["addItemToOrder"]["__typename"] == "Order", added
            await shop.query(
                """mutation($i: CreateCustomerInput!) { setCustomerForOrder(input: $i) { __typename } }""",
                i={"emailAddress": "shopper@example.com", "firstName": "Ada", "lastName": "Shopper"},
            )
            await shop.query(
                """mutation($i: CreateAddressInput!) { setOrderShippingAddress(input: $i) { __typename } }""",
                i={"fullName": "Ada Shopper", "streetLine1": "Hauptstr. 1", "city": "Berlin",
                   "postalCode": "10115", "countryCode": "DE"},
            )  # fmt: skip
            await shop.query(
                """mutation($id: [ID!]!) { setOrderShippingMethod(shippingMethodId: $id) { __typename } }""",
                id=[self.shipping_method_id],
            )
            moved = await shop.query(
                """mutation { transitionOrderToState(state: "ArrangingPayment") {
                     __typename ... on OrderStateTransitionError { transitionError } } }"""
            )
            assert moved["transitionOrderToState"]["__typename"] == "Order", moved
            paid = await shop.query(
                """mutation { addPaymentToOrder(input: { method: "dummy", metadata: {} }) {
                     __typename ... on Order { code state } ... on ErrorResult { message } } }"""
            )
            assert paid["addPaymentToOrder"]["__typename"] == "Order", paid
        finally:
            await shop.aclose()
        code = str(paid["addPaymentToOrder"]["code"])
        self.orders.append(code)
        return code


def _args(**values: str) -> list[dict[str, str]]:
    """Configurable-operation arguments, which Vendure takes as name/value strings."""
    return [{"name": name, "value": value} for name, value in values.items()]


async def _seed(peer: VendurePeer) -> SeededVendure:
    admin = RawVendure(peer.admin_url)
    await admin.login(peer.username, peer.password)
    q = admin.query
    country = (await q(
        "mutation($i: CreateCountryInput!) { createCountry(input: $i) { id } }",
        i={"code": "DE", "enabled": True, "translations": [{"languageCode": "en", "name": "Germany"}]},
    ))["createCountry"]["id"]  # fmt: skip
    zone = (await q(
        "mutation($i: CreateZoneInput!) { createZone(input: $i) { id } }",
        i={"name": "Europe", "memberIds": [country]},
    ))["createZone"]["id"]  # fmt: skip
    await q(
        "mutation($i: UpdateChannelInput!) { updateChannel(input: $i) { __typename } }",
        i={"id": "1", "defaultTaxZoneId": zone, "defaultShippingZoneId": zone,
           "defaultCurrencyCode": CURRENCY, "availableCurrencyCodes": [CURRENCY]},
    )  # fmt: skip
    category = (await q(
        "mutation($i: CreateTaxCategoryInput!) { createTaxCategory(input: $i) { id } }",
        i={"name": "Standard", "isDefault": True},
    ))["createTaxCategory"]["id"]  # fmt: skip
    await q(
        "mutation($i: CreateTaxRateInput!) { createTaxRate(input: $i) { id } }",
        i={"name": "DE standard", "enabled": True, "value": 19, "categoryId": category, "zoneId": zone},
    )
    shipping = (await q(
        "mutation($i: CreateShippingMethodInput!) { createShippingMethod(input: $i) { id } }",
        i={"code": "standard", "fulfillmentHandler": "manual-fulfillment",
           "checker": {"code": "default-shipping-eligibility-checker", "arguments": _args(orderMinimum="0")},
           "calculator": {"code": "default-shipping-calculator",
                          "arguments": _args(rate="500", includesTax="auto", taxRate="0")},
           "translations": [{"languageCode": "en", "name": "Standard", "description": ""}]},
    ))["createShippingMethod"]["id"]  # fmt: skip
    await q(
        "mutation($i: CreatePaymentMethodInput!) { createPaymentMethod(input: $i) { id } }",
        i={"code": "dummy", "enabled": True,
           "handler": {"code": "dummy-payment-handler", "arguments": _args(automaticSettle="true")},
           "translations": [{"languageCode": "en", "name": "Dummy", "description": ""}]},
    )  # fmt: skip
    product_ids = []
    for n, sku in enumerate(SKUS):
        product = await q(
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }",
            i={"translations": [{"languageCode": "en", "name": f"Tee {n}", "slug": sku.lower(),
                                 "description": f"Organic cotton tee {n}"}]},
        )  # fmt: skip
        product_ids.append(product["createProduct"]["id"])
    variants = await q(
        "mutation($i: [CreateProductVariantInput!]!) { createProductVariants(input: $i) { id sku } }",
        i=[{"productId": product_ids[n], "sku": sku, "price": 1000 + n * 100, "stockOnHand": 50,
            "translations": [{"languageCode": "en", "name": f"Tee {n}"}]} for n, sku in enumerate(SKUS)],
    )  # fmt: skip
    ids = {v["sku"]: v["id"] for v in variants["createProductVariants"]}
    return SeededVendure(peer=peer, admin=admin, variant_ids=ids, shipping_method_id=shipping)


@pytest.fixture(scope="session")
async def vendure() -> AsyncIterator[SeededVendure]:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("the Vendure tests need Node.js 20+ and npm on PATH (e.g. `apt-get install nodejs npm`)")
    async with running_vendure() as peer:
        seeded = await _seed(peer)
        try:
            yield seeded
        finally:
            await seeded.admin.aclose()


TemplateFactory = Callable[..., VendureTemplate]


@pytest.fixture
async def make_template(vendure: SeededVendure) -> AsyncIterator[TemplateFactory]:
    """Templates on the session's Vendure (or ``base_url``), closed after the test."""
    made: list[VendureTemplate] = []

    def make(*, sleep: RecordingSleep | None = None, max_attempts: int = 3, **config: Any) -> VendureTemplate:
        settings = {"base_url": vendure.peer.base_url, "username": vendure.peer.username, **config}
        secrets = {"password": settings.pop("password", vendure.peer.password)}
        context = ConnectorContext(
            config=settings,
            secrets=secrets,
            network=NetworkPolicy.permissive(),
            max_attempts=max_attempts,
            sleep=sleep if sleep is not None else asyncio.sleep,
        )
        template = VendureTemplate(context)
        made.append(template)
        return template

    yield make
    for template in made:
        await template.aclose()
