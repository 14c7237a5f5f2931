"""A marketplace sandbox speaking the Amazon Selling Partner API's wire protocol (for tests and demos).

Login-with-Amazon tokens, Listings Items (PATCH with JSON Patch, search), Feeds (documents, JSON
listings feeds processed after a few polls, processing reports), Orders with ``NextToken`` pagination,
and SP-API's per-operation rate limits (429 with ``x-amzn-RateLimit-Limit`` and ``Retry-After``).
Control routes under ``/_sandbox/marketplace`` seed listings and orders and expire tokens.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Litestar, Request, Response, get, patch, post, put
from litestar.types import ControllerRouterHandler

from connectors.sandboxes.faults import CONTROL_PREFIX, sandbox_app

CONTROL = f"{CONTROL_PREFIX}/marketplace"
FEED_VERSION = "2021-06-30"
LISTINGS_VERSION = "2021-08-01"

DEFAULT_RATE_LIMITS: dict[str, tuple[float, int]] = {
    # SP-API's published usage plans (requests per second, burst), per operation.
    "getMarketplaceParticipations": (0.016, 15),
    "patchListingsItem": (5.0, 10),
    "searchListingsItems": (5.0, 5),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
}


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> float | None:
        """Take one token; None when taken, else the seconds until one is available."""
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


@dataclass
class _State:
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    documents: dict[str, bytes | None] = field(default_factory=dict)
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_tokens: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    buckets: dict[str, _Bucket] = field(default_factory=dict)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _moment(value: str) -> datetime:
    """A stored timestamp; seeds are trusted, an unreadable one sorts first."""
    return _parse_time(value) or datetime.min.replace(tzinfo=UTC)


def _errors(status: int, code: str, message: str, details: str = "") -> Response[Any]:
    return Response(
        content={"errors": [{"code": code, "message": message, "details": details}]}, status_code=status
    )


def _issue(code: str, message: str, attribute: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR"}
    if attribute:
        issue["attributeNames"] = [attribute]
    return issue


def _offer_price(value: Any, marketplace_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The price a ``purchasable_offer`` patch value sets, or the issues that make it invalid."""
    try:
        offer = value[0]
        amount = Decimal(str(offer["our_price"][0]["schedule"][0]["value_with_tax"]))
        currency = str(offer["currency"])
    except (KeyError, IndexError, TypeError, InvalidOperation):
        return None, [_issue("90220", "'purchasable_offer' is malformed", "purchasable_offer")]
    issues = []
    if not amount.is_finite() or amount < 0:
        issues.append(_issue("90220", "'our_price' must be a number of at least 0", "purchasable_offer"))
    if len(currency) != 3 or not currency.isupper():
        issues.append(_issue("90220", f"'{currency}' is not a currency code", "purchasable_offer"))
    if offer.get("marketplace_id") not in (None, marketplace_id):
        issues.append(_issue("90220", "marketplace_id does not match the request", "purchasable_offer"))
    return ({"currency": currency, "amount": str(amount)} if not issues else None), issues


def _quantity(value: Any) -> tuple[int | None, list[dict[str, Any]]]:
    try:
        quantity = value[0]["quantity"]
    except (KeyError, IndexError, TypeError):
        return None, [_issue("90220", "'fulfillment_availability' is malformed", "fulfillment_availability")]
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        return None, [
            _issue("90220", "'quantity' must be a whole number of at least 0", "fulfillment_availability")
        ]
    return quantity, []


def apply_patches(
    state: _State, sku: str, patches: Any, marketplace_id: str
) -> tuple[str, list[dict[str, Any]]]:
    """Apply a listing's JSON Patch; (status, issues) as SP-API reports them. Nothing changes on issues."""
    listing = state.listings.get(sku)
    if listing is None:
        return "INVALID", [_issue("4000001", f"SKU '{sku}' does not exist in this marketplace")]
    if not isinstance(patches, list) or not patches:
        return "INVALID", [_issue("4000002", "'patches' must be a non-empty list")]
    changes: dict[str, Any] = {}
    issues: list[dict[str, Any]] = []
    for patch_op in patches:
        if not isinstance(patch_op, dict) or patch_op.get("op") not in ("add", "replace", "delete"):
            issues.append(_issue("4000002", "each patch needs an op of add, replace or delete"))
            continue
        path = patch_op.get("path")
        if path == "/attributes/purchasable_offer":
            price, found = _offer_price(patch_op.get("value"), marketplace_id)
            issues += found
            changes["price"] = price
        elif path == "/attributes/fulfillment_availability":
            quantity, found = _quantity(patch_op.get("value"))
            issues += found
            changes["quantity"] = quantity
        else:
            issues.append(_issue("4000003", f"the sandbox does not support patching {path!r}"))
    if issues:
        return "INVALID", issues
    listing.update(changes)
    listing["lastUpdatedDate"] = _now_iso()
    return "ACCEPTED", []


def _listing_view(listing: dict[str, Any], marketplace_id: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "sku": listing["sku"],
        "summaries": [
            {
                "marketplaceId": marketplace_id,
                "asin": listing.get("asin"),
                "productType": listing.get("productType", "PRODUCT"),
                "itemName": listing.get("itemName"),
                "status": ["BUYABLE", "DISCOVERABLE"],
                "createdDate": listing.get("createdDate"),
                "lastUpdatedDate": listing["lastUpdatedDate"],
            }
        ],
        "offers": [],
        "fulfillmentAvailability": [],
    }
    if listing.get("price"):
        price = listing["price"]
        view["offers"].append(
            {
                "marketplaceId": marketplace_id,
                "offerType": "B2C",
                "price": {"currencyCode": price["currency"], "amount": price["amount"]},
            }
        )
    if listing.get("quantity") is not None:
        view["fulfillmentAvailability"].append(
            {"fulfillmentChannelCode": "DEFAULT", "quantity": listing["quantity"]}
        )
    return view


def create_app(
    *,
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",  # noqa: S107 - the sandbox's well-known test credential
    refresh_token: str = "sandbox-refresh",  # noqa: S107 - the sandbox's well-known test credential
    seller_id: str = "SANDBOXSELLER",
    marketplace_id: str = "A1PA6795UKMFR9",
    page_size: int = 2,
    feed_polls_until_done: int = 2,
    token_lifetime: int = 3600,
    rate_limits: dict[str, tuple[float, int]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Litestar:
    """The sandbox app. ``page_size`` caps every page; ``clock`` drives the rate-limit buckets."""
    state = _State()
    limits = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}

    def throttle(operation: str) -> Response[Any] | None:
        rate, burst = limits[operation]
        bucket = state.buckets.setdefault(operation, _Bucket(rate, burst, float(burst), clock()))
        wait = bucket.take(clock())
        if wait is None:
            return None
        response = _errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
        response.headers["x-amzn-RateLimit-Limit"] = f"{rate:g}"
        response.headers["Retry-After"] = str(max(math.ceil(wait), 1))
        return response

    def guard(request: Request[Any, Any, Any], operation: str) -> Response[Any] | None:
        """Auth first (an unauthorised caller spends no quota), then the operation's rate limit."""
        token = request.headers.get("x-amz-access-token", "")
        expires = state.tokens.get(token)
        if expires is None or expires <= clock():
            return _errors(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided is revoked, malformed or invalid.",
            )
        return throttle(operation)

    def check_marketplace(value: str | None) -> Response[Any] | None:
        if value is None:
            return _errors(400, "InvalidInput", "MarketplaceIds is required.")
        if marketplace_id not in value.split(","):
            return _errors(400, "InvalidInput", f"Invalid marketplace identifier: {value}")
        return None

    @post("/auth/o2/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        given_id, given_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            given_id, _, given_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if given_id != client_id or given_secret != client_secret:
            body = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return Response(content=body, status_code=401)
        if form.get("grant_type") != "refresh_token":
            return Response(content={"error": "unsupported_grant_type"}, status_code=400)
        if form.get("refresh_token") != refresh_token:
            body = {"error": "invalid_grant", "error_description": "The request has an invalid grant"}
            return Response(content=body, status_code=400)
        access = "Atza|" + secrets.token_urlsafe(24)
        state.tokens[access] = clock() + token_lifetime
        return Response(
            content={"access_token": access, "token_type": "bearer", "expires_in": token_lifetime}
        )

    @get("/sellers/v1/marketplaceParticipations")
    async def participations(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request, "getMarketplaceParticipations"):
            return refused
        market = {"id": marketplace_id, "name": "Sandbox", "countryCode": "DE", "defaultCurrencyCode": "EUR"}
        payload = [{"marketplace": market, "participation": {"isParticipating": True}}]
        return Response(content={"payload": payload})

    @patch(f"/listings/{LISTINGS_VERSION}/items/{{seller:str}}/{{sku:str}}")
    async def patch_listing(request: Request[Any, Any, Any], seller: str, sku: str) -> Response[Any]:
        if refused := guard(request, "patchListingsItem"):
            return refused
        if bad := check_marketplace(request.query_params.get("marketplaceIds")):
            return bad
        if seller != seller_id:
            return _errors(403, "Unauthorized", "Access to requested resource is denied.")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _errors(400, "InvalidInput", "The request body is not valid JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("productType"), str):
            return _errors(400, "InvalidInput", "productType is required.")
        status, issues = apply_patches(state, sku, body.get("patches"), marketplace_id)
        submission = secrets.token_hex(16)
        return Response(content={"sku": sku, "status": status, "submissionId": submission, "issues": issues})

    @get(f"/listings/{LISTINGS_VERSION}/items/{{seller:str}}")
    async def search_listings(request: Request[Any, Any, Any], seller: str) -> Response[Any]:
        if refused := guard(request, "searchListingsItems"):
            return refused
        params = request.query_params
        if bad := check_marketplace(params.get("marketplaceIds")):
            return bad
        if seller != seller_id:
            return _errors(403, "Unauthorized", "Access to requested resource is denied.")
        after = _parse_time(params["lastUpdatedAfter"]) if params.get("lastUpdatedAfter") else None
        rows = sorted(state.listings.values(), key=lambda r: (r["lastUpdatedDate"], r["sku"]))
        if after is not None:
            rows = [r for r in rows if _moment(r["lastUpdatedDate"]) >= after]
        offset = 0
        if params.get("pageToken"):
            try:
                offset = int(base64.urlsafe_b64decode(params["pageToken"]).decode())
            except ValueError:
                return _errors(400, "InvalidInput", "pageToken is not valid.")
        size = min(int(params.get("pageSize", 10)), page_size, 20)
        chunk = rows[offset : offset + size]
        body: dict[str, Any] = {
            "numberOfResults": len(rows),
            "pagination": {},
            "items": [_listing_view(r, marketplace_id) for r in chunk],
        }
        if offset + size < len(rows):
            body["pagination"]["nextToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        return Response(content=body)

    @post(f"/feeds/{FEED_VERSION}/documents", status_code=201)
    async def create_feed_document(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request, "createFeedDocument"):
            return refused
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict) or not body.get("contentType"):
            return _errors(400, "InvalidInput", "contentType is required.")
        document_id = "amzn1.tortuga.4." + secrets.token_hex(8)
        state.documents[document_id] = None
        url = f"{str(request.base_url).rstrip('/')}/_documents/{document_id}"
        return Response(content={"feedDocumentId": document_id, "url": url}, status_code=201)

    @put("/_documents/{document_id:str}", status_code=200)
    async def upload_document(request: Request[Any, Any, Any], document_id: str) -> Response[Any]:
        # The pre-signed upload URL: no access token, like S3.
        if document_id not in state.documents:
            return Response(content="NoSuchKey", status_code=404, media_type="text/plain")
        state.documents[document_id] = await request.body()
        return Response(content="", status_code=200, media_type="text/plain")

    @get("/_documents/{document_id:str}")
    async def download_document(document_id: str) -> Response[Any]:
        content = state.documents.get(document_id)
        if content is None:
            return Response(content="NoSuchKey", status_code=404, media_type="text/plain")
        return Response(content=content, media_type="application/json")

    @post(f"/feeds/{FEED_VERSION}/feeds", status_code=202)
    async def create_feed(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request, "createFeed"):
            return refused
        body = json.loads(await request.body() or b"{}")
        if not isinstance(body, dict) or body.get("feedType") != "JSON_LISTINGS_FEED":
            return _errors(400, "InvalidInput", "The sandbox accepts feedType JSON_LISTINGS_FEED only.")
        if marketplace_id not in (body.get("marketplaceIds") or []):
            return _errors(400, "InvalidInput", "marketplaceIds must name the seller's marketplace.")
        document_id = str(body.get("inputFeedDocumentId"))
        if state.documents.get(document_id) is None:
            return _errors(400, "InvalidInput", f"No uploaded feed document {document_id}.")
        feed_id = str(50000 + len(state.feeds))
        state.feeds[feed_id] = {
            "feedId": feed_id,
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [marketplace_id],
            "createdTime": _now_iso(),
            "processingStatus": "IN_QUEUE",
            "_document": document_id,
            "_polls": 0,
        }
        return Response(content={"feedId": feed_id}, status_code=202)

    def process_feed(feed: dict[str, Any]) -> None:
        content = state.documents[feed["_document"]] or b""
        try:
            document = json.loads(content)
            messages = document["messages"]
            if not isinstance(messages, list):
                raise TypeError("messages")
        except (ValueError, KeyError, TypeError):
            report: dict[str, Any] = {"issues": [_issue("4000004", "The feed document is not valid JSON")]}
            feed["processingStatus"] = "FATAL"
        else:
            issues: list[dict[str, Any]] = []
            invalid = 0
            for message in messages:
                message_id = message.get("messageId") if isinstance(message, dict) else None
                if not isinstance(message, dict) or message.get("operationType") != "PATCH":
                    found = [_issue("4000002", "the sandbox processes PATCH messages only")]
                else:
                    _, found = apply_patches(
                        state, str(message.get("sku")), message.get("patches"), marketplace_id
                    )
                issues += [{"messageId": message_id, **issue} for issue in found]
                invalid += bool(found)
            report = {
                "header": {"sellerId": seller_id, "version": "2.0", "feedId": feed["feedId"]},
                "issues": issues,
                "summary": {
                    "errors": len(issues),
                    "warnings": 0,
                    "messagesProcessed": len(messages),
                    "messagesAccepted": len(messages) - invalid,
                    "messagesInvalid": invalid,
                },
            }
            feed["processingStatus"] = "DONE"
        result_id = "amzn1.tortuga.4.result." + secrets.token_hex(8)
        state.documents[result_id] = json.dumps(report).encode()
        feed["resultFeedDocumentId"] = result_id
        feed["processingEndTime"] = _now_iso()

    @get(f"/feeds/{FEED_VERSION}/feeds/{{feed_id:str}}")
    async def get_feed(request: Request[Any, Any, Any], feed_id: str) -> Response[Any]:
        if refused := guard(request, "getFeed"):
            return refused
        feed = state.feeds.get(feed_id)
        if feed is None:
            return _errors(404, "NotFound", f"Feed {feed_id} not found.")
        feed["_polls"] += 1
        if feed["processingStatus"] in ("IN_QUEUE", "IN_PROGRESS"):
            if feed["_polls"] >= feed_polls_until_done:
                process_feed(feed)
            else:
                feed["processingStatus"] = "IN_PROGRESS"
                feed["processingStartTime"] = _now_iso()
        return Response(content={k: v for k, v in feed.items() if not k.startswith("_")})

    @get(f"/feeds/{FEED_VERSION}/documents/{{document_id:str}}")
    async def get_feed_document(request: Request[Any, Any, Any], document_id: str) -> Response[Any]:
        if refused := guard(request, "getFeedDocument"):
            return refused
        if state.documents.get(document_id) is None:
            return _errors(404, "NotFound", f"Feed document {document_id} not found.")
        url = f"{str(request.base_url).rstrip('/')}/_documents/{document_id}"
        return Response(content={"feedDocumentId": document_id, "url": url})

    @get("/orders/v0/orders")
    async def get_orders(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request, "getOrders"):
            return refused
        params = request.query_params
        if bad := check_marketplace(params.get("MarketplaceIds")):
            return bad
        if params.get("NextToken"):
            found = state.next_tokens.pop(params["NextToken"], None)
            if found is None:
                return _errors(400, "InvalidInput", "Invalid NextToken.")
            filters, offset = found
        else:
            filters, offset = {}, 0
            for name in ("LastUpdatedAfter", "CreatedAfter"):
                if params.get(name):
                    moment = _parse_time(params[name])
                    if moment is None:
                        return _errors(400, "InvalidInput", f"{name} is not an ISO 8601 date.")
                    filters[name] = moment
            if not filters:
                return _errors(400, "InvalidInput", "Either CreatedAfter or LastUpdatedAfter is required.")
            filters["size"] = min(int(params.get("MaxResultsPerPage", 100)), page_size)
        rows = sorted(state.orders.values(), key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]))
        if "LastUpdatedAfter" in filters:
            # SP-API: orders last updated after *or at* the given time.
            rows = [o for o in rows if _moment(o["LastUpdateDate"]) >= filters["LastUpdatedAfter"]]
        if "CreatedAfter" in filters:
            rows = [o for o in rows if _moment(o["PurchaseDate"]) >= filters["CreatedAfter"]]
        size = filters["size"]
        payload: dict[str, Any] = {"Orders": rows[offset : offset + size], "CreatedBefore": _now_iso()}
        if offset + size < len(rows):
            next_token = secrets.token_urlsafe(16)
            state.next_tokens[next_token] = (filters, offset + size)
            payload["NextToken"] = next_token
        return Response(content={"payload": payload})

    @get("/orders/v0/orders/{order_id:str}/orderItems")
    async def get_order_items(request: Request[Any, Any, Any], order_id: str) -> Response[Any]:
        if refused := guard(request, "getOrderItems"):
            return refused
        if order_id not in state.orders:
            return _errors(404, "NotFound", f"Order {order_id} not found.")
        items = state.order_items.get(order_id, [])
        return Response(content={"payload": {"AmazonOrderId": order_id, "OrderItems": items}})

    @post(f"{CONTROL}/listings", status_code=201)
    async def seed_listings(request: Request[Any, Any, Any]) -> dict[str, int]:
        for row in json.loads(await request.body()):
            listing = {"createdDate": _now_iso(), "lastUpdatedDate": _now_iso(), **row}
            state.listings[row["sku"]] = listing
        return {"listings": len(state.listings)}

    @get(f"{CONTROL}/listings")
    async def list_listings() -> list[dict[str, Any]]:
        return sorted(state.listings.values(), key=lambda r: r["sku"])

    @post(f"{CONTROL}/orders", status_code=201)
    async def seed_orders(request: Request[Any, Any, Any]) -> dict[str, int]:
        for row in json.loads(await request.body()):
            order = dict(row)
            state.order_items[order["AmazonOrderId"]] = order.pop("OrderItems", [])
            state.orders[order["AmazonOrderId"]] = order
        return {"orders": len(state.orders)}

    @post(f"{CONTROL}/expire-tokens", status_code=204)
    async def expire_tokens() -> None:
        state.tokens.clear()

    handlers: list[ControllerRouterHandler] = [
        token,
        participations,
        patch_listing,
        search_listings,
        create_feed_document,
        upload_document,
        download_document,
        create_feed,
        get_feed,
        get_feed_document,
        get_orders,
        get_order_items,
        seed_listings,
        list_listings,
        seed_orders,
        expire_tokens,
    ]
    app = sandbox_app(handlers)

    def reset() -> None:
        fresh = _State()
        state.__dict__.update(fresh.__dict__)

    app.state.control.reset_hooks.append(reset)
    return app
