"""A point-of-sale sandbox speaking Square's API (for tests and demos): locations, catalog search and
batch upsert, inventory counts and PHYSICAL_COUNT changes, over an in-memory store.

Like Square it fails a whole batch on one bad object, honours idempotency keys (the same key and body
get the same answer; the same key with another body is refused), pages with opaque cursors and answers
429 with ``Retry-After`` past its token bucket. ``/_sandbox/pos`` seeds data, shows state and can make
the next write "lose" its response (applied, then answered 500) to exercise idempotent retries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.types import ControllerRouterHandler

from connectors.sandboxes.faults import CONTROL_PREFIX, sandbox_app

CONTROL = f"{CONTROL_PREFIX}/pos"
DEFAULT_LOCATIONS = [
    {
        "id": "L-MAIN",
        "name": "Main Street",
        "type": "PHYSICAL",
        "status": "ACTIVE",
        "timezone": "America/New_York",
    },
    {"id": "L-WEB", "name": "Online", "type": "MOBILE", "status": "ACTIVE", "timezone": "America/New_York"},
]


class BatchRejectedError(Exception):
    """One bad object in a batch: Square answers 400 for the whole request."""

    def __init__(self, code: str, detail: str, field_name: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.field_name = code, detail, field_name


def _error(
    status: int, category: str, code: str, detail: str, field_name: str | None = None
) -> Response[Any]:
    error: dict[str, Any] = {"category": category, "code": code, "detail": detail}
    if field_name:
        error["field"] = field_name
    return Response(content={"errors": [error]}, status_code=status)


@dataclass
class _State:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    variations: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    cursors: dict[str, tuple[list[dict[str, Any]], int]] = field(default_factory=dict)
    lose_responses: int = 0
    last_time: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    version: int = 1_700_000_000_000
    tokens: float = 0.0
    tokens_updated: float = 0.0

    def tick(self) -> str:
        """A strictly increasing timestamp, so ``begin_time`` filters never tie."""
        now = max(datetime.now(UTC), self.last_time + timedelta(microseconds=1))
        self.last_time = now
        return now.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def next_version(self) -> int:
        self.version += 1
        return self.version


def _new_id() -> str:
    return secrets.token_hex(12).upper()


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _variation_view(variation: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        k: variation[k] for k in ("item_id", "name", "sku", "pricing_type") if k in variation
    }
    if variation.get("price_money") is not None:
        data["price_money"] = dict(variation["price_money"])
    return {
        "type": "ITEM_VARIATION",
        "id": variation["id"],
        "version": variation["version"],
        "updated_at": variation["updated_at"],
        "is_deleted": False,
        "present_at_all_locations": True,
        "item_variation_data": data,
    }


def create_app(
    *,
    access_token: str = "sandbox-square-token",  # noqa: S107 - the sandbox's well-known test credential
    currency: str = "USD",
    page_size: int = 2,
    rate: tuple[float, int] = (20.0, 40),
    clock: Callable[[], float] = time.monotonic,
    locations: list[dict[str, Any]] | None = None,
) -> Litestar:
    """The sandbox app; ``page_size`` caps every page, ``rate`` is (requests per second, burst)."""
    state = _State(tokens=float(rate[1]), tokens_updated=clock())
    known_locations = [{**loc, "currency": currency} for loc in (locations or DEFAULT_LOCATIONS)]
    location_ids = {loc["id"] for loc in known_locations}

    def item_view(item: dict[str, Any]) -> dict[str, Any]:
        variations = [v for v in state.variations.values() if v["item_id"] == item["id"]]
        return {
            "type": "ITEM",
            "id": item["id"],
            "version": item["version"],
            "updated_at": item["updated_at"],
            "is_deleted": False,
            "present_at_all_locations": True,
            "item_data": {
                "name": item["name"],
                "description": item.get("description"),
                "variations": [_variation_view(v) for v in variations],
            },
        }

    def guard(request: Request[Any, Any, Any]) -> Response[Any] | None:
        if request.headers.get("authorization") != f"Bearer {access_token}":
            return _error(
                401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized."
            )
        now = clock()
        state.tokens = min(float(rate[1]), state.tokens + (now - state.tokens_updated) * rate[0])
        state.tokens_updated = now
        if state.tokens >= 1:
            state.tokens -= 1
            return None
        response = _error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Too many requests; slow down.")
        response.headers["Retry-After"] = str(max(math.ceil((1 - state.tokens) / rate[0]), 1))
        return response

    async def body_of(request: Request[Any, Any, Any]) -> dict[str, Any] | Response[Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error(400, "INVALID_REQUEST_ERROR", "INVALID_CONTENT_TYPE", "The body is not valid JSON.")
        if not isinstance(body, dict):
            return _error(400, "INVALID_REQUEST_ERROR", "EXPECTED_OBJECT", "The body must be a JSON object.")
        return body

    def page(rows: list[dict[str, Any]], body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``rows`` (a snapshot kept behind the cursor) and the next cursor."""
        if body.get("cursor"):
            found = state.cursors.pop(str(body["cursor"]), None)
            if found is None:
                raise BatchRejectedError("INVALID_CURSOR", "The cursor is not valid.", "cursor")
            rows, offset = found
        else:
            offset = 0
        size = min(int(body.get("limit") or 100), page_size)
        chunk = rows[offset : offset + size]
        if offset + size >= len(rows):
            return chunk, None
        cursor = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode()
        state.cursors[cursor] = (rows, offset + size)
        return chunk, cursor

    def idempotent(body: dict[str, Any], apply: Callable[[dict[str, Any]], dict[str, Any]]) -> Response[Any]:
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key:
            return _error(
                400,
                "INVALID_REQUEST_ERROR",
                "MISSING_REQUIRED_PARAMETER",
                "idempotency_key is required",
                "idempotency_key",
            )
        fingerprint = hashlib.sha256(
            json.dumps({k: v for k, v in body.items() if k != "idempotency_key"}, sort_keys=True).encode()
        ).hexdigest()
        if key in state.idempotency:
            seen, answer = state.idempotency[key]
            if seen != fingerprint:
                return _error(
                    400,
                    "INVALID_REQUEST_ERROR",
                    "IDEMPOTENCY_KEY_REUSED",
                    "The idempotency key was used with a different request.",
                    "idempotency_key",
                )
            return Response(content=answer)
        try:
            answer = apply(body)
        except BatchRejectedError as rejected:
            return _error(400, "INVALID_REQUEST_ERROR", rejected.code, rejected.detail, rejected.field_name)
        state.idempotency[key] = (fingerprint, answer)
        if state.lose_responses > 0:
            state.lose_responses -= 1
            return _error(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "The response was lost (sandbox).")
        return Response(content=answer)

    @get("/v2/locations")
    async def list_locations(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request):
            return refused
        return Response(content={"locations": known_locations})

    def matches(variation: dict[str, Any], query: dict[str, Any]) -> bool:
        if "set_query" in query:
            spec = query["set_query"]
            values = spec.get("attribute_values") or []
            return bool(spec.get("attribute_name") == "sku" and variation.get("sku") in values)
        if "exact_query" in query:
            spec = query["exact_query"]
            return bool(
                spec.get("attribute_name") == "sku" and variation.get("sku") == spec.get("attribute_value")
            )
        return True

    @post("/v2/catalog/search", status_code=200)
    async def search_catalog(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request):
            return refused
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        types = body.get("object_types") or ["ITEM", "ITEM_VARIATION"]
        begin = _moment(body.get("begin_time")) if body.get("begin_time") else None
        if body.get("begin_time") and begin is None:
            return _error(
                400, "INVALID_REQUEST_ERROR", "INVALID_TIME", "begin_time is not RFC 3339.", "begin_time"
            )
        rows: list[dict[str, Any]] = []
        if "ITEM" in types:
            rows += [item_view(i) for i in state.items.values()]
        if "ITEM_VARIATION" in types:
            query = body.get("query") or {}
            rows += [_variation_view(v) for v in state.variations.values() if matches(v, query)]
        if begin is not None:
            rows = [r for r in rows if (_moment(r["updated_at"]) or begin) > begin]
        rows.sort(key=lambda r: (r["updated_at"], r["id"]))
        try:
            chunk, cursor = page(rows, body)
        except BatchRejectedError as rejected:
            return _error(400, "INVALID_REQUEST_ERROR", rejected.code, rejected.detail, rejected.field_name)
        answer: dict[str, Any] = {
            "objects": chunk,
            "latest_time": state.last_time.isoformat().replace("+00:00", "Z"),
        }
        if cursor:
            answer["cursor"] = cursor
        if body.get("include_related_objects"):
            parents = {o["item_variation_data"]["item_id"] for o in chunk if o["type"] == "ITEM_VARIATION"}
            answer["related_objects"] = [
                item_view(state.items[p]) for p in sorted(parents) if p in state.items
            ]
        return Response(content=answer)

    @post("/v2/catalog/batch-retrieve", status_code=200)
    async def batch_retrieve(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request):
            return refused
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        objects = []
        for object_id in body.get("object_ids") or []:
            if object_id in state.items:
                objects.append(item_view(state.items[object_id]))
            elif object_id in state.variations:
                objects.append(_variation_view(state.variations[object_id]))
        return Response(content={"objects": objects})

    def check_money(money: Any, where: str) -> None:
        if not isinstance(money, dict):
            raise BatchRejectedError("MISSING_REQUIRED_PARAMETER", f"{where} is required", where)
        amount = money.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise BatchRejectedError(
                "INVALID_VALUE", f"{where}.amount must be a non-negative integer", f"{where}.amount"
            )
        if money.get("currency") != currency:
            raise BatchRejectedError(
                "INVALID_VALUE",
                f"{where}.currency {money.get('currency')!r} is not the merchant's currency {currency}",
                f"{where}.currency",
            )

    def check_version(obj: dict[str, Any], stored: dict[str, Any] | None) -> None:
        object_id = obj.get("id")
        if not isinstance(object_id, str) or not object_id:
            raise BatchRejectedError("MISSING_REQUIRED_PARAMETER", "every object needs an id", "id")
        if object_id.startswith("#"):
            return
        if stored is None:
            raise BatchRejectedError("NOT_FOUND", f"Object {object_id} not found", "id")
        if obj.get("version") != stored["version"]:
            raise BatchRejectedError(
                "VERSION_MISMATCH", f"Object version does not match for object: {object_id}", "version"
            )

    def check_variation(obj: dict[str, Any], item_ids: set[str]) -> None:
        check_version(obj, state.variations.get(str(obj.get("id"))))
        data = obj.get("item_variation_data")
        if not isinstance(data, dict):
            raise BatchRejectedError(
                "MISSING_REQUIRED_PARAMETER", "item_variation_data is required", "item_variation_data"
            )
        if data.get("item_id") not in item_ids:
            raise BatchRejectedError(
                "INVALID_VALUE",
                f"item_id {data.get('item_id')!r} is not an item",
                "item_variation_data.item_id",
            )
        sku = data.get("sku")
        if sku is not None and (not isinstance(sku, str) or len(sku) > 255):
            raise BatchRejectedError(
                "INVALID_VALUE", "sku must be a string of at most 255 characters", "item_variation_data.sku"
            )
        if data.get("pricing_type", "FIXED_PRICING") == "FIXED_PRICING":
            check_money(data.get("price_money"), "item_variation_data.price_money")

    def apply_upsert(body: dict[str, Any]) -> dict[str, Any]:
        objects = [o for batch in body.get("batches") or [] for o in (batch.get("objects") or [])]
        if not objects:
            raise BatchRejectedError("MISSING_REQUIRED_PARAMETER", "batches must hold objects", "batches")
        item_ids = set(state.items)
        item_ids |= {str(o.get("id")) for o in objects if o.get("type") == "ITEM"}
        seen: set[str] = set()
        for obj in objects:
            object_id = str(obj.get("id"))
            if object_id in seen:
                raise BatchRejectedError(
                    "INVALID_VALUE", f"Object {object_id} appears twice in the batch", "id"
                )
            seen.add(object_id)
            if obj.get("type") == "ITEM":
                check_version(obj, state.items.get(object_id))
                data = obj.get("item_data") or {}
                if not isinstance(data.get("name"), str) or not data["name"].strip():
                    raise BatchRejectedError(
                        "MISSING_REQUIRED_PARAMETER", "item_data.name is required", "item_data.name"
                    )
                for variation in data.get("variations") or []:
                    nested = {
                        **variation,
                        "item_variation_data": {
                            **(variation.get("item_variation_data") or {}),
                            "item_id": object_id,
                        },
                    }
                    check_variation(nested, item_ids)
            elif obj.get("type") == "ITEM_VARIATION":
                check_variation(obj, item_ids)
            else:
                raise BatchRejectedError(
                    "INVALID_VALUE",
                    f"the sandbox upserts ITEM and ITEM_VARIATION, not {obj.get('type')!r}",
                    "type",
                )
        mappings: dict[str, str] = {}

        def real_id(client_id: str) -> str:
            if not client_id.startswith("#"):
                return client_id
            return mappings.setdefault(client_id, _new_id())

        touched_items: list[str] = []
        now = state.tick()

        def store_variation(variation: dict[str, Any], item_id: str) -> None:
            data = variation.get("item_variation_data") or {}
            variation_id = real_id(str(variation["id"]))
            state.variations[variation_id] = {
                "id": variation_id,
                "version": state.next_version(),
                "updated_at": now,
                "item_id": item_id,
                "name": data.get("name") or "Regular",
                "sku": data.get("sku"),
                "pricing_type": data.get("pricing_type", "FIXED_PRICING"),
                "price_money": data.get("price_money"),
            }

        for obj in objects:
            if obj["type"] == "ITEM":
                item_id = real_id(str(obj["id"]))
                data = obj["item_data"]
                state.items[item_id] = {
                    "id": item_id,
                    "version": state.next_version(),
                    "updated_at": now,
                    "name": data["name"],
                    "description": data.get("description"),
                }
                if "variations" in data:
                    kept = {real_id(str(v["id"])) for v in data["variations"]}
                    for stale in [
                        v
                        for v in state.variations.values()
                        if v["item_id"] == item_id and v["id"] not in kept
                    ]:
                        del state.variations[stale["id"]]
                    for variation in data["variations"]:
                        store_variation(variation, item_id)
                touched_items.append(item_id)
        for obj in objects:
            if obj["type"] == "ITEM_VARIATION":
                item_id = real_id(str(obj["item_variation_data"]["item_id"]))
                store_variation(obj, item_id)
                state.items[item_id]["updated_at"] = now
                touched_items.append(item_id)
        upserted = [item_view(state.items[i]) for i in dict.fromkeys(touched_items)]
        return {
            "objects": upserted,
            "id_mappings": [{"client_object_id": c, "object_id": o} for c, o in mappings.items()],
            "updated_at": now,
        }

    @post("/v2/catalog/batch-upsert", status_code=200)
    async def batch_upsert(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request):
            return refused
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        return idempotent(body, apply_upsert)

    def count_view(variation_id: str, location_id: str) -> dict[str, Any]:
        count = state.counts[(variation_id, location_id)]
        return {
            "catalog_object_id": variation_id,
            "catalog_object_type": "ITEM_VARIATION",
            "state": "IN_STOCK",
            "location_id": location_id,
            "quantity": count["quantity"],
            "calculated_at": count["calculated_at"],
        }

    @post("/v2/inventory/batch-retrieve-counts", status_code=200)
    async def retrieve_counts(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request):
            return refused
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        after = _moment(body.get("updated_after")) if body.get("updated_after") else None
        wanted_locations = set(body.get("location_ids") or location_ids)
        wanted_objects = set(body.get("catalog_object_ids") or [])
        rows = [
            count_view(v, loc)
            for (v, loc) in state.counts
            if loc in wanted_locations and (not wanted_objects or v in wanted_objects)
        ]
        if after is not None:
            rows = [r for r in rows if (_moment(r["calculated_at"]) or after) > after]
        rows.sort(key=lambda r: (r["calculated_at"], r["catalog_object_id"], r["location_id"]))
        try:
            chunk, cursor = page(rows, body)
        except BatchRejectedError as rejected:
            return _error(400, "INVALID_REQUEST_ERROR", rejected.code, rejected.detail, rejected.field_name)
        answer: dict[str, Any] = {"counts": chunk}
        if cursor:
            answer["cursor"] = cursor
        return Response(content=answer)

    def apply_changes(body: dict[str, Any]) -> dict[str, Any]:
        changes = body.get("changes")
        if not isinstance(changes, list) or not changes or len(changes) > 100:
            raise BatchRejectedError("INVALID_ARRAY_LENGTH", "changes must hold 1 to 100 changes", "changes")
        for n, change in enumerate(changes):
            where = f"changes[{n}].physical_count"
            if not isinstance(change, dict) or change.get("type") != "PHYSICAL_COUNT":
                raise BatchRejectedError(
                    "INVALID_VALUE", "the sandbox accepts PHYSICAL_COUNT changes", f"changes[{n}].type"
                )
            count = change.get("physical_count") or {}
            if count.get("catalog_object_id") not in state.variations:
                raise BatchRejectedError(
                    "NOT_FOUND",
                    f"catalog object {count.get('catalog_object_id')!r} not found",
                    f"{where}.catalog_object_id",
                )
            if count.get("location_id") not in location_ids:
                raise BatchRejectedError(
                    "NOT_FOUND", f"location {count.get('location_id')!r} not found", f"{where}.location_id"
                )
            try:
                quantity = Decimal(str(count.get("quantity")))
            except InvalidOperation:
                quantity = Decimal(-1)
            if not quantity.is_finite() or quantity < 0:
                raise BatchRejectedError(
                    "INVALID_VALUE", "quantity must be a non-negative decimal string", f"{where}.quantity"
                )
            if count.get("state") != "IN_STOCK" or _moment(count.get("occurred_at")) is None:
                raise BatchRejectedError(
                    "INVALID_VALUE", "state must be IN_STOCK and occurred_at RFC 3339", where
                )
        now = state.tick()
        for change in changes:
            count = change["physical_count"]
            key = (count["catalog_object_id"], count["location_id"])
            state.counts[key] = {"quantity": str(Decimal(str(count["quantity"]))), "calculated_at": now}
            state.changes.append({"id": _new_id(), **change, "created_at": now})
        touched = dict.fromkeys(
            (c["physical_count"]["catalog_object_id"], c["physical_count"]["location_id"]) for c in changes
        )
        return {
            "counts": [count_view(v, loc) for v, loc in touched],
            "changes": state.changes[-len(changes) :],
        }

    @post("/v2/inventory/changes/batch-create", status_code=200)
    async def batch_create_changes(request: Request[Any, Any, Any]) -> Response[Any]:
        if refused := guard(request):
            return refused
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        return idempotent(body, apply_changes)

    @post(f"{CONTROL}/seed", status_code=201)
    async def seed(request: Request[Any, Any, Any]) -> dict[str, int]:
        body = json.loads(await request.body())
        by_sku: dict[str, str] = {}
        for row in body.get("items", []):
            now = state.tick()
            item_id, variation_id = _new_id(), _new_id()
            state.items[item_id] = {
                "id": item_id,
                "version": state.next_version(),
                "updated_at": now,
                "name": row["name"],
            }
            price = (
                {"amount": row["amount"], "currency": row.get("currency", currency)}
                if "amount" in row
                else None
            )
            state.variations[variation_id] = {
                "id": variation_id,
                "version": state.next_version(),
                "updated_at": now,
                "item_id": item_id,
                "name": "Regular",
                "sku": row["sku"],
                "pricing_type": "FIXED_PRICING" if price else "VARIABLE_PRICING",
                "price_money": price,
            }
            by_sku[row["sku"]] = variation_id
        by_sku |= {v["sku"]: v["id"] for v in state.variations.values()}
        for row in body.get("counts", []):
            key = (by_sku[row["sku"]], row["location_id"])
            state.counts[key] = {"quantity": str(row["quantity"]), "calculated_at": state.tick()}
        return {"items": len(state.items), "counts": len(state.counts)}

    @get(f"{CONTROL}/state")
    async def show_state() -> dict[str, Any]:
        return {
            "items": [item_view(i) for i in state.items.values()],
            "counts": [count_view(v, loc) for v, loc in state.counts],
            "changes": len(state.changes),
        }

    @post(f"{CONTROL}/lose-responses", status_code=204)
    async def lose_responses(request: Request[Any, Any, Any]) -> None:
        state.lose_responses = int(json.loads(await request.body()).get("count", 1))

    handlers: list[ControllerRouterHandler] = [
        list_locations,
        search_catalog,
        batch_retrieve,
        batch_upsert,
        retrieve_counts,
        batch_create_changes,
        seed,
        show_state,
        lose_responses,
    ]
    app = sandbox_app(handlers)

    def reset() -> None:
        fresh = _State(tokens=float(rate[1]), tokens_updated=clock())
        state.__dict__.update(fresh.__dict__)

    app.state.control.reset_hooks.append(reset)
    return app
