"""A generic retail REST/JSON API sandbox: items, prices and stock, each listable in four pagination
styles, filterable by ``updated_since``, behind one of five auth schemes, with per-item write results.

Listing: ``GET /<style>/<resource>`` with style ``page`` (``?page=&per_page=``), ``offset``
(``?offset=&limit=``), ``cursor`` (``?cursor=&limit=``, next cursor in ``meta.next_cursor`` and the
``X-Next-Cursor`` header) or ``link`` (``?page=&per_page=``, a bare list and an RFC 8288 ``Link``
header), and resource ``items``, ``prices`` or ``stock``. Records come in key order, not change order.
Writes: ``PUT /prices/{sku}`` (422 for a bad amount or currency, 404 for an unknown SKU) and
``POST /stock/batch`` (``{"items": [...]}`` → ``{"results": [{"index", "status", "error"?}]}``, each
malformed item rejected on its own). ``GET /whoami`` echoes the caller; ``GET /items/{sku}`` reads one.
``POST /_sandbox/rest/touch`` with ``{"resource": "items", "sku": "SKU-003"}`` changes a record as if
someone edited it at the source, for incremental reads.

Options for benchmarks (off by default): ``create_app(skus=N)`` seeds N more items ``BENCH-0000001`` …
so writes for them are accepted; ``POST /prices/batch`` (``{"items": [...]}``, at most 100, results as
for stock) sets many prices in one call; ``create_app(record_writes=True)`` keeps a log of every stored
write (resource, id, value, time.time() when stored), read with ``GET /_sandbox/rest/writes?after=N``;
``GET /_sandbox/rest/state/{resource}`` returns a whole table.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar, Request, Response, Router, get, post, put
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.handlers.base import BaseRouteHandler

from connectors.sandboxes.faults import SandboxControl, sandbox_app
from connectors.sandboxes.oauth import DEFAULT_SIGNING_SECRET, verify_access_token

STYLES = ("page", "offset", "cursor", "link")
RESOURCES = ("items", "prices", "stock")
DEFAULT_PAGE_SIZE = 3
MAX_PAGE_SIZE = 100
MAX_BATCH = 100
EPOCH = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

_ITEMS = [
    ("SKU-001", "Oak dining chair", "4001234500010", "Nordwood", "furniture", "129.00"),
    ("SKU-002", "Linen cushion", "4001234500027", "Hearth", "textiles", "24.90"),
    ("SKU-003", "Stoneware mug", "4001234500034", "Hearth", "kitchen", "9.50"),
    ("SKU-004", "Wool throw", "4001234500041", "Nordwood", "textiles", "59.00"),
    ("SKU-005", "Brass lamp", "4001234500058", "Lumen", "lighting", "89.00"),
    ("SKU-006", "Glass carafe", "4001234500065", "Hearth", "kitchen", "19.95"),
    ("SKU-007", "Walnut shelf", "4001234500072", "Nordwood", "furniture", "149.00"),
]
_CHANGE_ORDER = [5, 2, 7, 1, 6, 3, 4]
"""Seeded change sequence per item: changes are not in SKU order, as at a real source."""


@dataclass
class RetailStore:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    stock: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Orders as the shop shows them, by order id: status and lines, set with ``PUT /orders/{id}``."""
    sequence: int = 0
    synthetic_items: int = 0
    """Benchmarks: how many generated items (``BENCH-0000001`` …) ``seed`` adds after the fixed ones."""
    writes: list[tuple[str, str, Any, float]] | None = None
    """Benchmarks: (resource, id, value, time stored) of every write, when recording is on."""

    def stamp(self, record: dict[str, Any], sequence: int | None = None) -> dict[str, Any]:
        """Mark ``record`` as changed now: ``updated_at`` and ``version`` grow with every change."""
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        record["version"] = sequence
        record["updated_at"] = (EPOCH + timedelta(seconds=sequence)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return record

    def seed(self) -> None:
        self.items.clear()
        self.prices.clear()
        self.stock.clear()
        self.orders.clear()
        for (sku, title, gtin, brand, category, amount), order in zip(_ITEMS, _CHANGE_ORDER, strict=True):
            item = {"sku": sku, "title": title, "gtin": gtin, "brand": brand, "category": category}
            self.items[sku] = self.stamp(item, order)
            price = {
                "id": f"{sku}:retail",
                "sku": sku,
                "price_list": "retail",
                "amount": amount,
                "currency": "EUR",
            }
            self.prices[price["id"]] = self.stamp(price, order + 10)
            for location, on_hand in (("WH1", 10 * order), ("STORE-1", order)):
                row: dict[str, Any] = {
                    "id": f"{sku}:{location}",
                    "sku": sku,
                    "location": location,
                    "on_hand": on_hand,
                    "reserved": 0,
                }
                self.stock[row["id"]] = self.stamp(row, order + 20)
        self.sequence = 100
        for n in range(1, self.synthetic_items + 1):
            sku = synthetic_sku(n)
            self.items[sku] = {
                "sku": sku,
                "title": f"Bench item {n}",
                "version": 0,
                "updated_at": "2024-05-01T08:00:00Z",
            }
        if self.writes is not None:
            self.writes.clear()

    def record(self, resource: str, key: str, value: Any) -> None:
        if self.writes is not None:
            self.writes.append((resource, key, value, time.time()))

    def rows(self, resource: str, since: str | None) -> list[dict[str, Any]]:
        table = {"items": self.items, "prices": self.prices, "stock": self.stock}[resource]
        return [
            dict(table[key]) for key in sorted(table) if since is None or table[key]["updated_at"] > since
        ]


def synthetic_sku(n: int) -> str:
    """The SKU of the ``n``-th generated item (from 1) of ``create_app(skus=...)``."""
    return f"BENCH-{n:07d}"


def _int_param(request: Request[Any, Any, Any], name: str, default: int, minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationException(detail=f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ValidationException(detail=f"{name} must be at least {minimum}")
    return value


def _since(request: Request[Any, Any, Any]) -> str | None:
    raw = request.query_params.get("updated_since")
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationException(
            detail=f"updated_since must be an ISO-8601 timestamp, not {raw!r}"
        ) from None
    if parsed.tzinfo is None:
        raise ValidationException(detail="updated_since needs a time zone")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "o":
            raise ValueError(kind)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationException(detail=f"cursor {cursor!r} is not one this API issued") from None


def _list(store: RetailStore, request: Request[Any, Any, Any]) -> Response[Any]:
    _, style, resource = request.url.path.rstrip("/").split("/")
    since = _since(request)
    rows = store.rows(resource, since)
    if style in ("page", "link"):
        page = _int_param(request, "page", 1, 1)
        size = min(_int_param(request, "per_page", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)
        chunk = rows[(page - 1) * size : page * size]
        if style == "page":
            return Response({"data": chunk, "page": page, "per_page": size, "total": len(rows)})
        base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
        query = {"per_page": size, **({"updated_since": since} if since else {})}
        links = [f'<{base}?{urlencode({**query, "page": 1})}>; rel="first"']
        if page * size < len(rows):
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        return Response(chunk, headers={"Link": ", ".join(links)})
    limit = min(_int_param(request, "limit", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)
    if style == "offset":
        offset = _int_param(request, "offset", 0)
        return Response(
            {"data": rows[offset : offset + limit], "offset": offset, "limit": limit, "total": len(rows)}
        )
    cursor = request.query_params.get("cursor")
    offset = _decode_cursor(cursor) if cursor else 0
    has_more = offset + limit < len(rows)
    next_cursor = _encode_cursor(offset + limit) if has_more else None
    headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
    body = {"data": rows[offset : offset + limit], "meta": {"next_cursor": next_cursor, "has_more": has_more}}
    return Response(body, headers=headers)


def _price_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    try:
        amount = Decimal(str(body.get("amount")))
    except InvalidOperation:
        return f"amount {body.get('amount')!r} is not a number"
    if not amount.is_finite() or amount < 0:
        return "amount must be a finite number ≥ 0"
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        return "amount has more than 2 decimals"
    currency = body.get("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha() and currency.isupper()):
        return f"currency {currency!r} is not an ISO-4217 code"
    if not isinstance(body.get("price_list", "retail"), str):
        return "price_list must be a string"
    return None


def _stock_problem(store: RetailStore, item: Any) -> str | None:
    if not isinstance(item, dict):
        return "each item must be a JSON object"
    if item.get("sku") not in store.items:
        return f"unknown sku {item.get('sku')!r}"
    if not isinstance(item.get("location"), str) or not item["location"]:
        return "location is required"
    if "on_hand" not in item:
        return "on_hand is required"
    for name in ("on_hand", "reserved"):
        value = item.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{name} must be an integer, not {value!r}"
    if item.get("reserved", 0) < 0:
        return "reserved must not be negative"
    return None


def _batch_items(body: Any) -> list[Any]:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationException(detail='the body must be {"items": [...]}')
    if len(items) > MAX_BATCH:
        raise ValidationException(detail=f"at most {MAX_BATCH} items per batch")
    return items


async def _json(request: Request[Any, Any, Any]) -> Any:
    try:
        return await request.json()
    except Exception:  # Litestar raises several kinds for a body that is not JSON
        raise ValidationException(detail="the body is not JSON") from None


def _guard_for(
    auth: str,
    api_key: str,
    username: str,
    password: str,
    bearer_token: str,
    signing_secret: str,
    clock: Callable[[], float],
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    def principal(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
        header = connection.headers.get("authorization", "")
        if auth == "none":
            return "anonymous"
        if auth == "api_key":
            given = connection.headers.get("x-api-key") or connection.query_params.get("api_key") or ""
            return "api-key" if hmac.compare_digest(given, api_key) else None
        if auth == "basic" and header.lower().startswith("basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, binascii.Error):
                return None
            ok = hmac.compare_digest(user, username) and hmac.compare_digest(secret, password)
            return user if ok else None
        if auth == "bearer" and header.lower().startswith("bearer "):
            return "bearer" if hmac.compare_digest(header[7:], bearer_token) else None
        if auth == "oauth2" and header.lower().startswith("bearer "):
            claims = verify_access_token(signing_secret, header[7:], clock())
            return str(claims["sub"]) if claims else None
        return None

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        who = principal(connection)
        if who is None:
            raise NotAuthorizedException(detail=f"missing or invalid credentials ({auth})")
        connection.scope["state"]["principal"] = who

    return guard


def create_app(
    *,
    auth: str = "api_key",
    api_key: str = "sandbox-key",
    username: str = "sandbox",
    password: str = "sandbox-password",  # noqa: S107 - test equipment
    bearer_token: str = "sandbox-token",  # noqa: S107 - test equipment
    signing_secret: str = DEFAULT_SIGNING_SECRET,
    clock: Callable[[], float] = time.time,
    skus: int | None = None,
    record_writes: bool = False,
) -> Litestar:
    """The API; ``auth`` is one of none, api_key, basic, bearer, oauth2 (tokens from the oauth sandbox
    signed with the same ``signing_secret``). ``skus`` adds that many generated items and
    ``record_writes`` logs every stored write (both for benchmarks)."""
    if auth not in ("none", "api_key", "basic", "bearer", "oauth2"):
        raise ValueError(f"unknown auth scheme {auth!r}")
    store = RetailStore(synthetic_items=skus or 0, writes=[] if record_writes else None)
    store.seed()

    @get([f"/{style}/{resource}" for style in STYLES for resource in RESOURCES])
    async def list_records(request: Request[Any, Any, Any]) -> Response[Any]:
        """List items, prices or stock in the pagination style the path names."""
        return _list(store, request)

    @get("/items/{sku:str}")
    async def get_item(sku: str) -> dict[str, Any]:
        """One item by SKU."""
        if sku not in store.items:
            raise NotFoundException(detail=f"no item with sku {sku!r}")
        return store.items[sku]

    @get("/whoami")
    async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Who the credentials belong to, and the correlation id the caller sent."""
        return {
            "principal": request.scope["state"].get("principal"),
            "correlation_id": request.headers.get("x-correlation-id"),
            "user_agent": request.headers.get("user-agent"),
        }

    def store_price(sku: str, body: dict[str, Any]) -> dict[str, Any]:
        price_list = body.get("price_list", "retail")
        price = {
            "id": f"{sku}:{price_list}",
            "sku": sku,
            "price_list": price_list,
            "amount": str(Decimal(str(body["amount"])).quantize(Decimal("0.01"))),
            "currency": body["currency"],
        }
        store.prices[price["id"]] = store.stamp(price)
        store.record("prices", price["id"], price["amount"])
        return price

    @put("/prices/{sku:str}")
    async def put_price(sku: str, request: Request[Any, Any, Any]) -> Response[Any]:
        """Create or replace the price of ``sku`` on a price list."""
        if sku not in store.items:
            raise NotFoundException(detail=f"no item with sku {sku!r}")
        body = await _json(request)
        problem = _price_problem(body)
        if problem:
            return Response({"error": problem}, status_code=422)
        return Response(store_price(sku, body))

    @post("/prices/batch", status_code=200)
    async def post_prices(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Set many prices (``{"items": [{"sku", "amount", "currency", "price_list"?}]}``); each item
        succeeds or fails on its own."""
        items = _batch_items(await _json(request))
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            problem = _price_problem(item)
            if problem is None and item.get("sku") not in store.items:
                problem = f"unknown sku {item.get('sku')!r}"
            if problem:
                results.append({"index": index, "status": "error", "error": problem})
                continue
            price = store_price(item["sku"], item)
            results.append({"index": index, "status": "ok", "id": price["id"]})
        return {"results": results}

    @post("/stock/batch", status_code=200)
    async def post_stock(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Set stock for many SKU × location pairs; each item succeeds or fails on its own."""
        items = _batch_items(await _json(request))
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            problem = _stock_problem(store, item)
            if problem:
                results.append({"index": index, "status": "error", "error": problem})
                continue
            row = {
                "id": f"{item['sku']}:{item['location']}",
                "sku": item["sku"],
                "location": item["location"],
                "on_hand": item["on_hand"],
                "reserved": item.get("reserved", 0),
            }
            store.stock[row["id"]] = store.stamp(row)
            store.record("stock", row["id"], row["on_hand"])
            results.append({"index": index, "status": "ok", "id": row["id"]})
        return {"results": results}

    @post("/_sandbox/rest/touch", status_code=200)
    async def touch(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Change a record as a user at the source would; it then shows up in incremental reads."""
        data = await _json(request)
        if not isinstance(data, dict):
            raise ValidationException(detail='the body must be {"resource": ..., "sku": ...}')
        resource, sku = data.get("resource", "items"), data.get("sku", "")
        table = {"items": store.items, "prices": store.prices, "stock": store.stock}.get(resource)
        if table is None:
            raise ValidationException(detail=f"resource must be one of {', '.join(RESOURCES)}")
        touched = [store.stamp(row) for row in table.values() if row["sku"] == sku]
        if not touched:
            raise NotFoundException(detail=f"no {resource} for sku {sku!r}")
        return {"touched": len(touched), "updated_at": touched[-1]["updated_at"]}

    @get("/_sandbox/rest/writes")
    async def list_writes(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Recorded writes from index ``after`` on (at most 50,000), and the index to ask from next."""
        if store.writes is None:
            raise NotFoundException(detail="writes are not recorded; create_app(record_writes=True)")
        after = _int_param(request, "after", 0)
        chunk = store.writes[after : after + 50_000]
        return {"writes": chunk, "next": after + len(chunk)}

    @get("/_sandbox/rest/state/{resource:str}")
    async def state(resource: str) -> dict[str, Any]:
        """A whole table as stored: ``items``, ``prices`` or ``stock``."""
        table = {"items": store.items, "prices": store.prices, "stock": store.stock}.get(resource)
        if table is None:
            raise NotFoundException(detail=f"resource must be one of {', '.join(RESOURCES)}")
        return table

    @put("/orders/{order_id:str}")
    async def put_order(order_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
        """Create or update an order (its status as the ERP reports it, and its lines)."""
        body = await _json(request)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str) or not status:
            return Response({"error": "status is required"}, status_code=422)
        lines = body.get("lines", [])
        if not isinstance(lines, list) or any(
            not isinstance(line, dict) or "sku" not in line for line in lines
        ):
            return Response({"error": "lines must be objects with a sku"}, status_code=422)
        order = {"id": order_id, "status": status, "lines": lines}
        store.orders[order_id] = store.stamp(order)
        return Response(order)

    guard = _guard_for(auth, api_key, username, password, bearer_token, signing_secret, clock)
    api = Router(
        path="/",
        route_handlers=[list_records, get_item, whoami, put_price, post_prices, post_stock, put_order],
        guards=[guard],
    )
    control = SandboxControl()
    control.reset_hooks.append(store.seed)
    app = sandbox_app([api, touch, list_writes, state], control=control)
    app.state.store = store
    return app
