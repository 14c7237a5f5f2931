"""The Shopify template against the Shopify sandbox over real HTTP (every query validated by the sandbox
against Shopify's real Admin schema)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, post

from connectors.peers.shopify_schema import api_version
from connectors.registry import template_class
from connectors.sandboxes import create_sandbox
from connectors.sandboxes.shopify import create_app
from connectors.sdk.config import check_schema, secret_fields
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.sdk.errors import ConfigError, PermanentError, TransientError
from connectors.sdk.results import ReadPage
from connectors.sdk.template import check_connection
from connectors.sdk.webhooks import WebhookSignatureError
from connectors.templates.shopify.template import ShopifyTemplate
from tests.connectors.serving import serve
from tests.connectors.shopify.conftest import TOKEN, WEBHOOK_SECRET, Clock, Sandbox, catalogue, make_template


async def read_all(template: ShopifyTemplate, domain: Domain, cursor: str | None = None) -> list[ReadPage]:
    return [page async for page in template.read(domain, cursor)]


def records(pages: list[ReadPage]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


VARIANT_BY_ID = """query ($id: ID!) { productVariant(id: $id) {
  sku price compareAtPrice
  inventoryItem { inventoryLevels(first: 5) { nodes {
    location { name } quantities(names: ["available", "on_hand"]) { name quantity } } } }
} }"""


async def variant(sandbox: Sandbox, variant_id: str) -> dict[str, Any]:
    answer = await sandbox.graphql(VARIANT_BY_ID, {"id": variant_id})
    assert "errors" not in answer, answer
    return dict(answer["data"]["productVariant"])


def stock_of(node: dict[str, Any], location: str) -> dict[str, int]:
    for level in node["inventoryItem"]["inventoryLevels"]["nodes"]:
        if level["location"]["name"] == location:
            return {q["name"]: q["quantity"] for q in level["quantities"]}
    raise AssertionError(f"no level at {location}")


@pytest.fixture
async def seeded(sandbox: Sandbox) -> dict[str, Any]:
    seeded: dict[str, Any] = await sandbox.seed(products=catalogue(12))
    seeded["by_sku"] = {v["sku"]: v for p in seeded["products"] for v in p["variants"]}
    seeded["location"] = {loc["name"]: loc["id"] for loc in seeded["locations"]}
    return seeded


class TestDeclaration:
    def test_registered(self) -> None:
        assert template_class("shopify") is ShopifyTemplate
        assert callable(create_sandbox("shopify").state.control.reset)

    def test_config_schema(self) -> None:
        check_schema(ShopifyTemplate.config_schema)
        assert secret_fields(ShopifyTemplate.config_schema) == {"access_token", "webhook_secret"}
        described = ShopifyTemplate.describe()
        assert described["reads"] == ["inventory", "items", "orders", "prices"]
        assert described["writes"] == ["inventory", "prices", "promotions"]
        assert ShopifyTemplate.config_schema["properties"]["api_version"]["default"] == api_version()

    def test_config_is_checked(self) -> None:
        context = ConnectorContext(config={"shop_url": "ftp://shop"}, secrets={})
        with pytest.raises(ConfigError) as caught:
            ShopifyTemplate(context)
        assert {path for path, _ in caught.value.problems} == {"access_token", "shop_url"}


class TestConnection:
    async def test_ok(self, sandbox: Sandbox) -> None:
        async with make_template(sandbox) as template:
            check = await check_connection(template)
        assert check.ok, check.detail
        assert "Sandbox Shop" in check.detail

    async def test_bad_token(self, sandbox: Sandbox) -> None:
        async with make_template(sandbox, token="shpat_wrong") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "Shopify refused the access token" in check.detail
        assert "Invalid API key or access token" in check.detail

    async def test_bad_token_answer_is_shopifys(self, sandbox: Sandbox) -> None:
        async with httpx.AsyncClient(base_url=sandbox.url) as client:
            response = await client.post(
                "/admin/api/2026-10/graphql.json",
                json={"query": "{ shop { name } }"},
                headers={"X-Shopify-Access-Token": "nope"},
            )
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }


class TestSandboxValidation:
    async def test_invalid_query_gets_shopify_error_shape(self, sandbox: Sandbox) -> None:
        answer = await sandbox.graphql(
            'mutation { productVariantUpdate(input: {id: "x"}) { userErrors { message } } }'
        )
        assert "data" not in answer
        assert "productVariantUpdate" in answer["errors"][0]["message"]
        assert answer["errors"][0]["locations"] == [{"line": 1, "column": 12}]

    async def test_compare_quantity_must_be_given(self, sandbox: Sandbox) -> None:
        seeded = await sandbox.seed(products=catalogue(2))
        item = seeded["products"][0]["variants"][0]["inventory_item_id"]
        location = seeded["locations"][0]["id"]
        answer = await sandbox.graphql(
            """mutation ($item: ID!, $location: ID!) { inventorySetQuantities(input: {name: "available",
              reason: "correction",
              quantities: [{inventoryItemId: $item, locationId: $location, quantity: 3}]})
              { inventoryAdjustmentGroup { id } userErrors { field code } } }""",
            {"item": item, "location": location},
        )
        outcome = answer["data"]["inventorySetQuantities"]
        assert outcome["inventoryAdjustmentGroup"] is None
        assert outcome["userErrors"] == [
            {"field": ["input", "quantities", "0", "changeFromQuantity"], "code": "COMPARE_QUANTITY_REQUIRED"}
        ]

    async def test_cost_is_reported(self, sandbox: Sandbox) -> None:
        answer = await sandbox.graphql("query { productVariants(first: 10) { nodes { id sku } } }")
        cost = answer["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 12
        assert cost["throttleStatus"] == {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1988.0,
            "restoreRate": 100.0,
        }

    async def test_query_over_max_cost_is_refused(self, sandbox: Sandbox) -> None:
        expensive = (
            "query { productVariants(first: 100) { nodes { inventoryItem { inventoryLevels(first: 10) "
        )
        expensive += "{ nodes { id } } } } } }"  # 2 + 100 × (1 + 1 + 2 + 10) = 1402
        async with make_template(sandbox) as template:
            with pytest.raises(
                PermanentError, match="Query cost is 1402, which exceeds the single query max"
            ):
                await template.client.execute(expensive)


class TestRead:
    async def test_full_read_over_pages(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        async with make_template(sandbox, page_size=5) as template:
            pages = await read_all(template, Domain.ITEMS)
        assert [len(p.records) for p in pages] == [5, 5, 2]
        items = records(pages)
        assert [r["sku"] for r in items] == [f"SKU-{n:03d}" for n in range(12)]
        assert items[3]["price"] == "13.50"
        assert items[3]["currency"] == "EUR"
        assert items[3]["product_title"] == "Shirt 1"
        assert items[3]["id"] == seeded["by_sku"]["SKU-003"]["id"]
        # Variants cannot be sorted by update time: the cursor moves only once the read is complete.
        assert [p.cursor for p in pages] == [None, None, "2024-01-12T09:00:00Z"]

    async def test_incremental_read_by_cursor(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        async with make_template(sandbox, page_size=5) as template:
            pages = await read_all(template, Domain.PRICES, "2024-01-05T09:00:00Z")
            assert [r["sku"] for r in records(pages)] == [f"SKU-{n:03d}" for n in range(5, 12)]
            assert len(pages) == 2
            cursor = pages[-1].cursor
            assert cursor == "2024-01-12T09:00:00Z"
            assert records(await read_all(template, Domain.PRICES, cursor)) == []
            await template.write(Domain.PRICES, [{"sku": "SKU-002", "price": "99.00"}])
            changed = records(await read_all(template, Domain.PRICES, cursor))
        assert [(r["sku"], r["price"]) for r in changed] == [("SKU-002", "99.00")]

    async def test_inventory_per_location(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        async with make_template(sandbox, page_size=5) as template:
            stock = records(await read_all(template, Domain.INVENTORY))
        assert len(stock) == 24
        sku7 = [r for r in stock if r["sku"] == "SKU-007"]
        assert {r["location_name"]: (r["available"], r["on_hand"]) for r in sku7} == {
            "Main warehouse": (7, 7),
            "High street store": (1, 1),
        }

    async def test_inventory_of_the_configured_location(
        self, sandbox: Sandbox, seeded: dict[str, Any]
    ) -> None:
        store = seeded["location"]["High street store"]
        async with make_template(sandbox, location_id=store) as template:
            stock = records(await read_all(template, Domain.INVENTORY))
        assert len(stock) == 12
        assert {r["location_id"] for r in stock} == {store}

    async def test_orders_full_and_incremental(self, sandbox: Sandbox) -> None:
        orders = [
            {
                "name": f"#{1000 + n}",
                "email": f"buyer{n}@example.com",
                "created_at": f"2024-02-{n + 1:02d}T10:00:00Z",
                "updated_at": f"2024-02-{n + 1:02d}T11:00:00Z",
                "lines": [{"sku": "SKU-001", "quantity": 2, "price": "10.00", "discount": "1.00"}],
                "tax": "3.80",
            }
            for n in range(12)
        ]
        await sandbox.seed(orders=orders)
        async with make_template(sandbox) as template:
            pages = await read_all(template, Domain.ORDERS)
            assert [len(p.records) for p in pages] == [10, 2]
            assert [p.cursor for p in pages] == ["2024-02-10T11:00:00Z", "2024-02-12T11:00:00Z"]
            first = pages[0].records[0]
            assert first["order_id"] == "#1000"
            assert first["total"] == "22.80"
            assert first["lines"] == [
                {"sku": "SKU-001", "quantity": 2, "unit_price": "10.00", "discount": "1.00"}
            ]
            assert first["lines_complete"] is True
            later = records(await read_all(template, Domain.ORDERS, "2024-02-10T11:00:00Z"))
        assert [o["order_id"] for o in later] == ["#1010", "#1011"]

    async def test_reading_a_domain_it_cannot(self, sandbox: Sandbox) -> None:
        async with make_template(sandbox) as template:
            with pytest.raises(PermanentError, match="cannot read promotions"):
                await read_all(template, Domain.PROMOTIONS)


class TestWritePrices:
    async def test_written_and_read_back(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-000", "price": "12.00", "compare_at_price": "15.00"},
            {"sku": "SKU-001", "price": "13.00"},
            {"sku": "SKU-004", "price": 20},
        ]
        async with make_template(sandbox) as template:
            results = await template.write(Domain.PRICES, payloads)
        assert [r.status for r in results] == ["ok", "ok", "ok"]
        assert results[0].destination_id == seeded["by_sku"]["SKU-000"]["id"]
        back = await variant(sandbox, seeded["by_sku"]["SKU-000"]["id"])
        assert (back["price"], back["compareAtPrice"]) == ("12.00", "15.00")
        assert (await variant(sandbox, seeded["by_sku"]["SKU-004"]["id"]))["price"] == "20"

    async def test_bad_records_fail_alone(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-002", "price": "5.00"},
            {"sku": "NO-SUCH-SKU", "price": "5.00"},
            {"sku": "SKU-003", "price": "-1.00"},  # same product as SKU-002: Shopify's userError
            {"sku": "SKU-006", "price": "abc"},
            {"price": "1.00"},
            {"sku": "SKU-008", "price": "8.00"},
        ]
        async with make_template(sandbox) as template:
            results = await template.write(Domain.PRICES, payloads)
        assert [r.status for r in results] == ["ok", "failed", "failed", "failed", "failed", "ok"]
        assert [r.index for r in results] == list(range(6))
        assert "no Shopify variant has SKU 'NO-SUCH-SKU'" in (results[1].error or "")
        assert results[2].error == "price: Price must be greater than or equal to 0"
        assert "not a number" in (results[3].error or "")
        assert results[4].error == "sku: is required"
        assert (await variant(sandbox, seeded["by_sku"]["SKU-002"]["id"]))["price"] == "5.00"
        assert (await variant(sandbox, seeded["by_sku"]["SKU-003"]["id"]))["price"] == "13.50"
        assert (await variant(sandbox, seeded["by_sku"]["SKU-008"]["id"]))["price"] == "8.00"


class TestWriteInventory:
    async def test_written_and_read_back(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        warehouse = seeded["location"]["Main warehouse"]
        async with make_template(sandbox, location_id=warehouse) as template:
            results = await template.write(
                Domain.INVENTORY, [{"sku": "SKU-005", "quantity": 40}, {"sku": "SKU-006", "quantity": 0}]
            )
            assert [r.status for r in results] == ["ok", "ok"]
            stock = {r["sku"]: r["available"] for r in records(await read_all(template, Domain.INVENTORY))}
        assert (stock["SKU-005"], stock["SKU-006"]) == (40, 0)
        node = await variant(sandbox, seeded["by_sku"]["SKU-005"]["id"])
        assert stock_of(node, "Main warehouse") == {"available": 40, "on_hand": 40}
        assert stock_of(node, "High street store") == {"available": 1, "on_hand": 1}

    async def test_bad_records_fail_alone(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        store = seeded["location"]["High street store"]
        payloads: list[dict[str, Any]] = [
            {"sku": "SKU-001", "quantity": 11},
            {"sku": "NO-SUCH-SKU", "quantity": 3},
            {"sku": "SKU-002", "quantity": -4},  # Shopify's userError; the whole call is refused
            {"sku": "SKU-003", "quantity": "many"},
            {"sku": "SKU-004", "quantity": 9, "location_id": "gid://shopify/Location/999999"},
            {"sku": "SKU-009", "quantity": 5, "location_id": store},
        ]
        warehouse = seeded["location"]["Main warehouse"]
        async with make_template(sandbox, location_id=warehouse) as template:
            results = await template.write(Domain.INVENTORY, payloads)
        assert [r.status for r in results] == ["ok", "failed", "failed", "failed", "failed", "ok"]
        assert "no Shopify variant has SKU" in (results[1].error or "")
        assert results[2].error == "quantity: The quantity can't be negative."
        assert "must be an integer" in (results[3].error or "")
        assert "location could not be found" in (results[4].error or "")
        assert (
            stock_of(await variant(sandbox, seeded["by_sku"]["SKU-001"]["id"]), "Main warehouse")["available"]
            == 11
        )
        assert (
            stock_of(await variant(sandbox, seeded["by_sku"]["SKU-002"]["id"]), "Main warehouse")["available"]
            == 2
        )
        assert (
            stock_of(await variant(sandbox, seeded["by_sku"]["SKU-009"]["id"]), "High street store")[
                "available"
            ]
            == 5
        )

    async def test_no_location(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        async with make_template(sandbox) as template:
            results = await template.write(Domain.INVENTORY, [{"sku": "SKU-001", "quantity": 1}])
        assert results[0].status == "failed"
        assert "location_id: is required" in (results[0].error or "")


AUTOMATIC = """query ($id: ID!) { automaticDiscountNode(id: $id) {
  automaticDiscount { ... on DiscountAutomaticBasic { title status startsAt endsAt } } } }"""
CODE = """query ($id: ID!) { codeDiscountNode(id: $id) {
  codeDiscount { ... on DiscountCodeBasic { title status } } } }"""


class TestPromotions:
    async def test_create_and_deactivate(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        payloads: list[dict[str, Any]] = [
            {
                "title": "Spring shirts",
                "percent": "15",
                "starts_at": "2025-03-01T00:00:00Z",
                "ends_at": "2025-04-01T00:00:00Z",
                "skus": ["SKU-001", "SKU-002"],
            },
            {
                "title": "Ten off",
                "amount": "10.00",
                "starts_at": "2025-03-01T00:00:00Z",
                "coupon_code": "TEN",
            },
        ]
        async with make_template(sandbox) as template:
            created = await template.write(Domain.PROMOTIONS, payloads)
            assert [r.status for r in created] == ["ok", "ok"], created
            automatic, code = created[0].destination_id, created[1].destination_id
            assert (automatic or "").startswith("gid://shopify/DiscountAutomaticNode/")
            assert (code or "").startswith("gid://shopify/DiscountCodeNode/")
            node = (await sandbox.graphql(AUTOMATIC, {"id": automatic}))["data"]["automaticDiscountNode"]
            assert node["automaticDiscount"]["status"] == "ACTIVE"
            sandbox.clock.t += 60
            gone = await template.write(
                Domain.PROMOTIONS,
                [{"action": "deactivate", "id": automatic}, {"action": "deactivate", "id": code}],
            )
        assert [r.status for r in gone] == ["ok", "ok"]
        node = (await sandbox.graphql(AUTOMATIC, {"id": automatic}))["data"]["automaticDiscountNode"]
        assert node["automaticDiscount"]["status"] == "EXPIRED"
        assert node["automaticDiscount"]["endsAt"] == "2025-03-01T12:01:00Z"
        coded = (await sandbox.graphql(CODE, {"id": code}))["data"]["codeDiscountNode"]
        assert coded["codeDiscount"]["status"] == "EXPIRED"

    async def test_bad_promotions_fail_alone(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        payloads: list[dict[str, Any]] = [
            {
                "title": "Backwards",
                "percent": "10",
                "starts_at": "2025-03-02T00:00:00Z",
                "ends_at": "2025-03-01T00:00:00Z",
            },
            {"title": "Fine", "percent": "5", "starts_at": "2025-03-01T00:00:00Z"},
            {"title": "Too much", "percent": "150", "starts_at": "2025-03-01T00:00:00Z"},
            {"title": "Both", "percent": "5", "amount": "1", "starts_at": "2025-03-01T00:00:00Z"},
            {"title": "Unknown SKU", "percent": "5", "starts_at": "2025-03-01T00:00:00Z", "skus": ["NOPE"]},
            {"action": "deactivate", "id": "gid://shopify/DiscountAutomaticNode/424242"},
            {"title": "Dup", "amount": "1", "starts_at": "2025-03-01T00:00:00Z", "coupon_code": "TAKEN1"},
            {
                "title": "Dup again",
                "amount": "1",
                "starts_at": "2025-03-01T00:00:00Z",
                "coupon_code": "taken1",
            },
        ]
        async with make_template(sandbox) as template:
            results = await template.write(Domain.PROMOTIONS, payloads)
        assert [r.status for r in results] == [
            "failed",
            "ok",
            "failed",
            "failed",
            "failed",
            "failed",
            "ok",
            "failed",
        ]
        assert results[0].error == "automaticBasicDiscount.endsAt: Ends at needs to be after starts_at"
        assert "Value must be between 0.0 and 1.0" in (results[2].error or "")
        assert "exactly one is required" in (results[3].error or "")
        assert "no Shopify variant has SKU 'NOPE'" in (results[4].error or "")
        assert results[5].error == "id: Discount does not exist"
        assert "Code must be unique" in (results[7].error or "")


class TestCostThrottling:
    async def test_waits_instead_of_being_throttled(self, clock: Clock) -> None:
        app = create_app(
            access_token=TOKEN, bucket_size=40, restore_rate=10, clock=clock.monotonic, now=clock.now
        )
        async with serve(app) as url:
            sandbox = Sandbox(url, app, clock)
            await sandbox.seed(products=catalogue(12))
            async with make_template(sandbox, page_size=5) as template:
                # shop 1 point (39 left), then pages of 2 + 5 × 3 = 17 points: 22 left, 5 left, then a wait.
                pages = await read_all(template, Domain.ITEMS)
            assert len(records(pages)) == 12
            assert clock.sleeps == [pytest.approx((17 - 5) / 10)]
            graphql_calls = [r for r in app.state.control.requests if r["path"].endswith("graphql.json")]
            assert len(graphql_calls) == 4  # no call was refused and repeated

    async def test_throttled_answer_is_retried(self, clock: Clock) -> None:
        app = create_app(
            access_token=TOKEN, bucket_size=40, restore_rate=10, clock=clock.monotonic, now=clock.now
        )
        async with serve(app) as url:
            sandbox = Sandbox(url, app, clock)
            await sandbox.seed(products=catalogue(12))
            drained = await sandbox.graphql("query { productVariants(first: 12) { nodes { id } } }")
            assert drained["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 26
            await sandbox.graphql("query { productVariants(first: 7) { nodes { id } } }")  # 9 → 17 left
            # A fresh connector does not know the page's cost (17 + shop's 1 > 17 left): refused, then waits.
            async with make_template(sandbox, page_size=5) as template:
                pages = await read_all(template, Domain.ITEMS)
            assert len(records(pages)) == 12
            # shop: 16 left; page 1 costs 17 → THROTTLED, wait (17 − 16) / 10; then later pages wait too.
            assert clock.sleeps[0] == pytest.approx(0.1)
            calls = [r for r in app.state.control.requests if r["path"].endswith("graphql.json")]
            assert len(calls) == 2 + 1 + 4  # two drains, shop, page 1 twice, pages 2 and 3


class TestHttpFaults:
    async def test_429_with_retry_after_is_honoured(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        await sandbox.fault(status=429, count=1, retry_after=2)
        async with make_template(sandbox) as template:
            pages = await read_all(template, Domain.ITEMS)
        assert len(records(pages)) == 12
        assert sandbox.clock.sleeps == [2.0]

    async def test_5xx_burst_is_retried(self, sandbox: Sandbox, seeded: dict[str, Any]) -> None:
        await sandbox.fault(status=502, count=2)
        async with make_template(sandbox) as template:
            results = await template.write(Domain.PRICES, [{"sku": "SKU-001", "price": "1.00"}])
        assert results[0].status == "ok"
        assert len(sandbox.clock.sleeps) == 2

    async def test_persistent_503_is_transient(self, sandbox: Sandbox) -> None:
        await sandbox.fault(status=503, count=10)
        async with make_template(sandbox) as template:
            with pytest.raises(TransientError, match="503"):
                await read_all(template, Domain.ITEMS)
        assert len(sandbox.clock.sleeps) == 2  # three attempts


class TestOrderWebhooks:
    @pytest.fixture
    async def delivered(self, sandbox: Sandbox) -> dict[str, Any]:
        received: list[tuple[dict[str, str], bytes]] = []

        @post("/hooks/shopify", status_code=200)
        async def hook(request: Request[Any, Any, Any]) -> None:
            received.append((dict(request.headers), await request.body()))

        async with serve(Litestar([hook])) as receiver:
            answer = await sandbox.control(
                "/_sandbox/shopify/webhooks/orders-create",
                {
                    "url": f"{receiver}/hooks/shopify",
                    "secret": WEBHOOK_SECRET,
                    "order": {
                        "name": "#2001",
                        "email": "a@example.com",
                        "lines": [{"sku": "SKU-001", "quantity": 3, "price": "9.99"}],
                    },
                },
            )
        assert answer["status"] == 200
        headers, body = received[0]
        return {"headers": headers, "body": body, "order_id": answer["order_id"]}

    async def test_signed_order_is_parsed(self, sandbox: Sandbox, delivered: dict[str, Any]) -> None:
        async with make_template(sandbox) as template:
            order = template.parse_order_webhook(delivered["headers"], delivered["body"])
        assert order["id"] == delivered["order_id"]
        assert order["order_id"] == "#2001"
        assert order["total"] == "29.97"
        assert order["financial_status"] == "PAID"
        assert order["fulfillment_status"] == "UNFULFILLED"
        assert order["lines"] == [{"sku": "SKU-001", "quantity": 3, "unit_price": "9.99", "discount": "0"}]

    async def test_same_order_is_readable(self, sandbox: Sandbox, delivered: dict[str, Any]) -> None:
        async with make_template(sandbox) as template:
            hooked = template.parse_order_webhook(delivered["headers"], delivered["body"])
            read = records(await read_all(template, Domain.ORDERS))
        assert read[0]["id"] == hooked["id"]
        assert read[0]["lines"] == hooked["lines"]
        assert read[0]["total"] == hooked["total"]

    async def test_wrong_secret(self, sandbox: Sandbox, delivered: dict[str, Any]) -> None:
        async with make_template(sandbox, webhook_secret="another-secret") as template:
            with pytest.raises(WebhookSignatureError, match="does not match"):
                template.parse_order_webhook(delivered["headers"], delivered["body"])

    async def test_tampered_body(self, sandbox: Sandbox, delivered: dict[str, Any]) -> None:
        tampered = delivered["body"].replace(b'"quantity": 3', b'"quantity": 30')
        assert tampered != delivered["body"]
        async with make_template(sandbox) as template:
            with pytest.raises(WebhookSignatureError, match="does not match"):
                template.parse_order_webhook(delivered["headers"], tampered)

    async def test_missing_signature(self, sandbox: Sandbox, delivered: dict[str, Any]) -> None:
        headers = {k: v for k, v in delivered["headers"].items() if k.lower() != "x-shopify-hmac-sha256"}
        async with make_template(sandbox) as template:
            with pytest.raises(WebhookSignatureError, match="missing X-Shopify-Hmac-Sha256"):
                template.parse_order_webhook(headers, delivered["body"])
