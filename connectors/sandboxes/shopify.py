"""A Shopify Admin GraphQL sandbox: ``POST /admin/api/<version>/graphql.json`` over an in-memory shop.

Every query is parsed and validated against Shopify's real Admin schema for that version (from the
pinned ``@shopify/dev-mcp``), costed and metered by a leaky bucket (``THROTTLED`` when empty), then
executed by graphql-core with the shop's resolvers. Control routes: ``POST /_sandbox/shopify/seed``
(products, variants, stock, orders) and ``POST /_sandbox/shopify/webhooks/orders-create`` (creates an
order and delivers Shopify's signed ``orders/create`` webhook to a URL).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    validate,
)
from litestar import Request, Response, post

from connectors.peers.shopify_schema import admin_schema, api_version, shipped_versions
from connectors.sandboxes.faults import sandbox_app
from connectors.sandboxes.shopify_cost import CostBucket, requested_cost
from connectors.sandboxes.shopify_shop import Shop, gid
from connectors.sdk.webhooks import WebhookScheme, sign

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
MAX_QUERY_COST = 1000
WEBHOOK_SCHEME = WebhookScheme(header="X-Shopify-Hmac-Sha256", format="body")


def _error(message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, **extra}
    if code:
        body["extensions"] = {"code": code}
    return body


def _graphql_error(error: GraphQLError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    return body


class ShopifyGraphqlEndpoint:
    """Authentication, validation, cost and execution of one Admin GraphQL request."""

    def __init__(self, shop: Shop, bucket: CostBucket, *, access_token: str, max_query_cost: int) -> None:
        self.shop, self.bucket = shop, bucket
        self.access_token, self.max_query_cost = access_token, max_query_cost

    def _cost_extension(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }

    def answer(self, version: str, token: str | None, raw: bytes) -> tuple[int, Any]:
        if token != self.access_token:
            return 401, {"errors": INVALID_TOKEN}
        if version not in shipped_versions():
            return 404, {"errors": "Not Found"}
        try:
            request = json.loads(raw)
            query, variables = request["query"], request.get("variables") or {}
            operation_name = request.get("operationName")
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}
        schema = admin_schema(version)
        try:
            document = parse(query)
        except GraphQLError as error:
            return 200, {"errors": [_graphql_error(error)]}
        problems = validate(schema, document)
        if problems:
            return 200, {"errors": [_graphql_error(p) for p in problems]}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [
            o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)
        ]
        if len(chosen) != 1:
            return 200, {"errors": [_error("An operation name is required when sending several operations")]}
        operation = chosen[0]
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        cost = requested_cost(schema, operation, fragments, variables)
        if cost > self.max_query_cost:
            limit = self.max_query_cost
            message = f"Query cost is {cost}, which exceeds the single query max cost limit ({limit})."
            return 200, {
                "errors": [_error(message, "MAX_COST_EXCEEDED")],
                "extensions": self._cost_extension(cost, None),
            }
        if not self.bucket.try_spend(cost):
            throttled = _error("Throttled", "THROTTLED")
            throttled["extensions"]["documentation"] = "https://shopify.dev/api/usage/rate-limits"
            return 200, {"errors": [throttled], "extensions": self._cost_extension(cost, None)}
        is_mutation = operation.operation is OperationType.MUTATION
        roots = self.shop.mutation_root() if is_mutation else self.shop.query_root()
        missing = [
            f.name.value
            for f in operation.selection_set.selections
            if hasattr(f, "name") and f.name.value not in roots and f.name.value != "__typename"
        ]
        if missing:
            message = f"The Shopify sandbox does not implement {', '.join(missing)}"
            return 200, {
                "errors": [_error(message, "NOT_IMPLEMENTED")],
                "extensions": self._cost_extension(cost, 0),
            }
        result = execute(
            schema, document, root_value=roots, variable_values=variables, operation_name=operation_name
        )
        if hasattr(result, "__await__"):  # every resolver is synchronous; never an awaitable
            raise TypeError("asynchronous execution is not expected")
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_graphql_error(e) for e in result.errors]
        if result.data is not None:
            body["data"] = result.data
        body["extensions"] = self._cost_extension(cost, cost)
        return 200, body


def create_app(
    *,
    access_token: str = "shpat_sandbox",  # noqa: S107 - the sandbox's well-known test token
    shop_name: str = "Sandbox Shop",
    currency: str = "EUR",
    bucket_size: float = 2000.0,
    restore_rate: float = 100.0,
    max_query_cost: int = MAX_QUERY_COST,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    locations: Sequence[str] = ("Main warehouse", "High street store"),
) -> Any:
    """The sandbox app. ``clock`` drives the cost bucket, ``now`` the shop's timestamps (tests move both)."""
    shop = Shop(name=shop_name, currency=currency, locations=locations, now=now)
    bucket = CostBucket(maximum=bucket_size, restore_rate=restore_rate, clock=clock)
    endpoint = ShopifyGraphqlEndpoint(shop, bucket, access_token=access_token, max_query_cost=max_query_cost)

    @post("/admin/api/{version:str}/graphql.json", status_code=200)
    async def graphql(request: Request[Any, Any, Any], version: str) -> Response[Any]:
        """Shopify's Admin GraphQL endpoint."""
        status, body = endpoint.answer(
            version, request.headers.get("X-Shopify-Access-Token"), await request.body()
        )
        return Response(content=body, status_code=status, headers={"X-Shopify-API-Version": version})

    @post("/_sandbox/shopify/seed", status_code=201)
    async def seed(data: dict[str, Any]) -> dict[str, Any]:
        """Add products (with variants and stock per location) and orders to the shop."""
        products = [shop.add_product(p) for p in data.get("products", [])]
        orders = [gid("Order", shop.add_order(o).id) for o in data.get("orders", [])]
        locations = [{"id": gid("Location", n), "name": name} for n, name in shop.locations.items()]
        return {"products": products, "orders": orders, "locations": locations}

    @post("/_sandbox/shopify/bucket/refill", status_code=204)
    async def refill() -> None:
        """Fill the cost bucket to the brim."""
        bucket.refill()

    @post("/_sandbox/shopify/webhooks/orders-create", status_code=200)
    async def send_order_webhook(data: dict[str, Any]) -> dict[str, Any]:
        """Create ``data["order"]`` and POST its signed orders/create webhook to ``data["url"]``."""
        order = shop.add_order(data.get("order", {}))
        body = json.dumps(shop.order_webhook_payload(order)).encode()
        headers = {
            "Content-Type": "application/json",
            WEBHOOK_SCHEME.header: sign(WEBHOOK_SCHEME, str(data["secret"]), body, int(time.time())),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": shop.domain,
            "X-Shopify-API-Version": api_version(),
            "X-Shopify-Webhook-Id": f"sandbox-{order.id}",
        }
        async with httpx.AsyncClient(timeout=10) as client:
            delivered = await client.post(str(data["url"]), content=body, headers=headers)
        return {"order_id": gid("Order", order.id), "status": delivered.status_code}

    app = sandbox_app([graphql, seed, refill, send_order_webhook])
    app.state.control.reset_hooks.extend([shop.reset, bucket.refill])
    app.state.shop = shop
    app.state.bucket = bucket
    return app
