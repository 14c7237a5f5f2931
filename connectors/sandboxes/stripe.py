"""A Stripe sandbox (for tests and demos): customers, products, metered prices, subscriptions, Billing
Meters and meter events, invoices and webhook endpoints, over an in-memory store, on Stripe's wire protocol.

The real ``stripe`` SDK works against it (``StripeClient(key, base_addresses={"api": url})``): bearer
``sk_test_…`` keys, form bodies in bracket notation, prefixed ids, ``{"object": "list", …}`` pages with
``limit`` and ``starting_after``, ``{"error": {…}}`` bodies with Stripe's status codes. Like Stripe it
replays a POST whose ``Idempotency-Key`` it has seen (``Idempotent-Replayed: true``) and refuses the key
with other parameters; refuses a meter event whose ``identifier`` it already holds (400, the way Stripe
answers it); answers 429 past a per-key request rate (``Retry-After``, ``Stripe-Should-Retry: true``);
and posts events to webhook endpoints signed as Stripe signs them (``Stripe-Signature: t=…,v1=…``).
``/_sandbox/stripe/close_period`` bills a customer's metered prices for a period (invoice created,
finalized, paid); ``/_sandbox/stripe/deliveries`` lists the webhook deliveries made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx
from litestar import Litestar, Request, Response, get, post, route

from connectors.sandboxes.faults import CONTROL_PREFIX, FaultSpec, sandbox_app

CONTROL = f"{CONTROL_PREFIX}/stripe"
API_VERSION = "2025-10-29.clover"
METER_EVENT_PAST_LIMIT = 35 * 86400
"""Stripe takes meter events up to 35 days old and at most 5 minutes ahead."""
METER_EVENT_FUTURE_LIMIT = 300

JsonObject = dict[str, Any]


class StripeError(Exception):
    """An error Stripe would answer with ``{"error": {type, code, message, param}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param
        self.headers = headers or {}

    def response(self) -> Response[Any]:
        error: JsonObject = {"type": self.kind, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return Response(
            content={"error": error},
            status_code=self.status,
            headers={"Request-Id": _id("req"), **self.headers},
        )


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'A').replace('_', 'B')[:24]}"


def _missing(name: str) -> StripeError:
    return StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def _invalid(name: str, message: str) -> StripeError:
    return StripeError(400, message, code="parameter_invalid_string", param=name)


def _no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def parse_form(pairs: list[tuple[str, str]]) -> JsonObject:
    """Stripe's bracket notation (``metadata[k]=v``, ``items[0][price]=p``, ``events[]=e``) as nested
    dicts and lists."""
    root: JsonObject = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        parts = [head] + (re.findall(r"([^\[\]]*)\]", "[" + rest) if rest else [])
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":  # ``name[]``: the next list element
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    parsed: JsonObject = _listify(root)
    return parsed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _whole(name: str, raw: Any, *, minimum: int | None = None) -> int:
    try:
        value = int(str(raw))
    except ValueError:
        raise StripeError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        ) from None
    if minimum is not None and value < minimum:
        raise StripeError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
            param=name,
        )
    return value


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class _Store:
    customers: dict[str, JsonObject] = field(default_factory=dict)
    products: dict[str, JsonObject] = field(default_factory=dict)
    prices: dict[str, JsonObject] = field(default_factory=dict)
    subscriptions: dict[str, JsonObject] = field(default_factory=dict)
    meters: dict[str, JsonObject] = field(default_factory=dict)
    meter_events: list[JsonObject] = field(default_factory=list)
    identifiers: set[str] = field(default_factory=set)
    invoices: dict[str, JsonObject] = field(default_factory=dict)
    webhook_endpoints: dict[str, JsonObject] = field(default_factory=dict)
    events: dict[str, JsonObject] = field(default_factory=dict)
    deliveries: list[JsonObject] = field(default_factory=list)
    idempotency: dict[tuple[str, str], tuple[str, int, JsonObject]] = field(default_factory=dict)
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def clear(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, (dict, list, set)):
                value.clear()
            else:  # pragma: no cover - every field is a container
                raise AssertionError(name)


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header of ``payload``: HMAC-SHA256 of ``"{t}.{payload}"`` under the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


Handler = Callable[[JsonObject, re.Match[str]], Awaitable[JsonObject] | JsonObject]


def create_app(
    *,
    rate_limit: float = 25.0,
    page_size: int | None = None,
    wall: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
    webhook_timeout: float = 5.0,
) -> Litestar:
    """The sandbox app. ``rate_limit`` is requests per second per API key (Stripe's test mode allows 25);
    ``page_size`` caps every page below the caller's ``limit``; ``wall`` gives unix times."""
    store = _Store()

    def now() -> int:
        return int(wall())

    def base(prefix: str, kind: str, **fields: Any) -> JsonObject:
        return {"id": _id(prefix), "object": kind, "created": now(), "livemode": False, **fields}

    # -- request plumbing -----------------------------------------------------------------------

    def authenticate(request: Request[Any, Any, Any]) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() == "basic":  # ``curl -u sk_test_…:``, which Stripe takes too
            try:
                key = base64.b64decode(key).decode().partition(":")[0]
            except ValueError:
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if not key:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization"
                " header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not re.fullmatch(r"sk_test_[A-Za-z0-9_]{4,}", key):
            raise StripeError(
                401, f"Invalid API Key provided: {key[:8]}{'*' * max(len(key) - 12, 4)}{key[-4:]}"
            )
        return key

    def throttle(key: str) -> None:
        """A token bucket per API key, ``rate_limit`` requests a second (bursts of the same size)."""
        capacity = max(rate_limit, 1.0)
        tokens, updated = store.buckets.get(key, (capacity, monotonic()))
        moment = monotonic()
        tokens = min(capacity, tokens + (moment - updated) * rate_limit)
        if tokens >= 1:
            store.buckets[key] = (tokens - 1, moment)
            return
        store.buckets[key] = (tokens, moment)
        raise StripeError(
            429,
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            headers={
                "Retry-After": str(max(math.ceil((1 - tokens) / rate_limit), 1)),
                "Stripe-Should-Retry": "true",
            },
        )

    def page(rows: list[JsonObject], params: JsonObject, url: str) -> JsonObject:
        """A Stripe list: newest first unless ``rows`` come ordered, ``limit`` 1–100 (default 10)."""
        limit = _whole("limit", params.get("limit", 10), minimum=1)
        if limit > 100:
            raise StripeError(400, "This value must be less than or equal to 100.", param="limit")
        if page_size:
            limit = min(limit, page_size)
        start = 0
        after = params.get("starting_after")
        if after:
            positions = [index for index, row in enumerate(rows) if row["id"] == after]
            if not positions:
                raise _no_such("object", str(after), "starting_after")
            start = positions[0] + 1
        chunk = rows[start : start + limit]
        return {"object": "list", "data": chunk, "has_more": start + limit < len(rows), "url": url}

    def newest_first(rows: list[JsonObject]) -> list[JsonObject]:
        return list(reversed(rows))

    def metadata_of(params: JsonObject, current: JsonObject | None = None) -> JsonObject:
        merged = dict(current or {})
        given = params.get("metadata")
        if given == "":
            return {}
        if given is not None and not isinstance(given, dict):
            raise _invalid("metadata", "Invalid hash")
        for key, value in (given or {}).items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    def required(params: JsonObject, name: str) -> Any:
        value = params.get(name)
        if value in (None, ""):
            raise _missing(name)
        return value

    # -- events and webhooks --------------------------------------------------------------------

    async def emit(kind: str, snapshot: JsonObject, previous: JsonObject | None = None) -> JsonObject:
        """Record event ``kind`` about ``snapshot`` and post it, signed, to every endpoint wanting it."""
        data: JsonObject = {"object": json.loads(json.dumps(snapshot))}
        if previous:
            data["previous_attributes"] = previous
        event = base(
            "evt",
            "event",
            api_version=API_VERSION,
            data=data,
            type=kind,
            pending_webhooks=0,
            request={"id": _id("req"), "idempotency_key": None},
        )
        wanting = [
            endpoint
            for endpoint in store.webhook_endpoints.values()
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or kind in endpoint["enabled_events"])
        ]
        event["pending_webhooks"] = len(wanting)
        store.events[event["id"]] = event
        payload = json.dumps(event, indent=2)
        for endpoint in wanting:
            await deliver(endpoint, event, payload)
        return event

    async def deliver(endpoint: JsonObject, event: JsonObject, payload: str) -> None:
        # Deliveries are made before the API call answers, so tests see them without waiting.
        signature = sign(payload, endpoint["secret"], now())
        record: JsonObject = {
            "event_id": event["id"],
            "type": event["type"],
            "url": endpoint["url"],
            "signature": signature,
            "payload": payload,
            "status": None,
            "error": None,
        }
        try:
            async with httpx.AsyncClient(timeout=webhook_timeout) as client:
                answer = await client.post(
                    endpoint["url"],
                    content=payload.encode(),
                    headers={
                        "Stripe-Signature": signature,
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    },
                )
            record["status"] = answer.status_code
        except httpx.HTTPError as error:
            record["error"] = f"{type(error).__name__}: {error}"
        store.deliveries.append(record)

    # -- customers ------------------------------------------------------------------------------

    def customer(customer_id: str, param: str = "id") -> JsonObject:
        found = store.customers.get(customer_id)
        if found is None or found.get("deleted"):
            raise _no_such("customer", customer_id, param)
        return found

    def create_customer(params: JsonObject, _: re.Match[str]) -> JsonObject:
        row = base(
            "cus",
            "customer",
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=metadata_of(params),
            balance=0,
            currency=None,
            delinquent=False,
            default_source=None,
            invoice_prefix=secrets.token_hex(4).upper(),
        )
        store.customers[row["id"]] = row
        return row

    def retrieve_customer(_: JsonObject, match: re.Match[str]) -> JsonObject:
        return customer(match["id"])

    def update_customer(params: JsonObject, match: re.Match[str]) -> JsonObject:
        row = customer(match["id"])
        for name in ("email", "name", "description"):
            if name in params:
                row[name] = params[name] or None
        row["metadata"] = metadata_of(params, row["metadata"])
        return row

    def list_customers(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = [row for row in store.customers.values() if not row.get("deleted")]
        if params.get("email"):
            rows = [row for row in rows if row["email"] == params["email"]]
        return page(newest_first(rows), params, "/v1/customers")

    # -- products and prices --------------------------------------------------------------------

    def create_product(params: JsonObject, _: re.Match[str]) -> JsonObject:
        row = base(
            "prod",
            "product",
            name=required(params, "name"),
            active=params.get("active", "true") != "false",
            description=params.get("description"),
            metadata=metadata_of(params),
            type="service",
            default_price=None,
            updated=now(),
        )
        if params.get("id"):
            if params["id"] in store.products:
                raise StripeError(400, "Product already exists.", code="resource_already_exists", param="id")
            row["id"] = params["id"]
        store.products[row["id"]] = row
        return row

    def list_products(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = list(store.products.values())
        if "active" in params:
            rows = [row for row in rows if row["active"] == (params["active"] == "true")]
        return page(newest_first(rows), params, "/v1/products")

    def create_price(params: JsonObject, _: re.Match[str]) -> JsonObject:
        currency = str(required(params, "currency")).lower()
        product = required(params, "product")
        if product not in store.products:
            raise _no_such("product", product, "product")
        if "unit_amount" in params:
            amount = Decimal(_whole("unit_amount", params["unit_amount"], minimum=0))
        elif "unit_amount_decimal" in params:
            try:
                amount = Decimal(str(params["unit_amount_decimal"]))
            except InvalidOperation:
                raise _invalid("unit_amount_decimal", "Invalid decimal") from None
        else:
            raise _missing("unit_amount")
        recurring = params.get("recurring")
        recurring_view: JsonObject | None = None
        if recurring is not None:
            if not isinstance(recurring, dict):
                raise _invalid("recurring", "Invalid hash")
            interval = required(recurring, "interval")
            if interval not in ("day", "week", "month", "year"):
                raise _invalid("recurring[interval]", f"Invalid recurring[interval]: {interval}")
            usage_type = recurring.get("usage_type", "licensed")
            meter = recurring.get("meter")
            if usage_type == "metered":
                if not meter:
                    raise StripeError(
                        400,
                        "Metered prices must be backed by a meter.",
                        code="parameter_missing",
                        param="recurring[meter]",
                    )
                if meter not in store.meters:
                    raise _no_such("billing.meter", meter, "recurring[meter]")
            recurring_view = {
                "interval": interval,
                "interval_count": _whole("recurring[interval_count]", recurring.get("interval_count", 1)),
                "usage_type": usage_type,
                "meter": meter,
                "aggregate_usage": None,
                "trial_period_days": None,
            }
        row = base(
            "price",
            "price",
            active=True,
            billing_scheme="per_unit",
            currency=currency,
            product=product,
            recurring=recurring_view,
            type="recurring" if recurring_view else "one_time",
            unit_amount=int(amount) if amount == amount.to_integral_value() else None,
            unit_amount_decimal=str(amount),
            metadata=metadata_of(params),
            nickname=params.get("nickname"),
            lookup_key=params.get("lookup_key"),
            tax_behavior="unspecified",
            tiers_mode=None,
        )
        store.prices[row["id"]] = row
        return row

    def list_prices(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = list(store.prices.values())
        if params.get("product"):
            rows = [row for row in rows if row["product"] == params["product"]]
        return page(newest_first(rows), params, "/v1/prices")

    # -- subscriptions --------------------------------------------------------------------------

    def subscription(subscription_id: str) -> JsonObject:
        found = store.subscriptions.get(subscription_id)
        if found is None:
            raise _no_such("subscription", subscription_id)
        return found

    async def create_subscription(params: JsonObject, _: re.Match[str]) -> JsonObject:
        owner = customer(required(params, "customer"), "customer")
        items = params.get("items")
        if not isinstance(items, list) or not items:
            raise _missing("items")
        start = now()
        end = start + 30 * 86400
        row = base(
            "sub",
            "subscription",
            customer=owner["id"],
            status="active",
            metadata=metadata_of(params),
            cancel_at_period_end=False,
            canceled_at=None,
            ended_at=None,
            collection_method="charge_automatically",
            current_period_start=start,
            current_period_end=end,
            start_date=start,
            currency=None,
        )
        views: list[JsonObject] = []
        for index, item in enumerate(items):
            price_id = item.get("price") if isinstance(item, dict) else None
            if not price_id:
                raise _missing(f"items[{index}][price]")
            price = store.prices.get(price_id)
            if price is None:
                raise _no_such("price", price_id, f"items[{index}][price]")
            metered = bool(price["recurring"] and price["recurring"]["usage_type"] == "metered")
            if metered and "quantity" in item:
                raise StripeError(
                    400,
                    "Quantity should not be specified where usage_type is `metered`.",
                    param=f"items[{index}][quantity]",
                )
            views.append(
                base(
                    "si",
                    "subscription_item",
                    price=price,
                    subscription=row["id"],
                    quantity=None if metered else _whole("quantity", item.get("quantity", 1)),
                    current_period_start=start,
                    current_period_end=end,
                    metadata={},
                )
            )
            row["currency"] = price["currency"]
        row["items"] = {
            "object": "list",
            "data": views,
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={row['id']}",
            "total_count": len(views),
        }
        store.subscriptions[row["id"]] = row
        await emit("customer.subscription.created", row)
        return row

    def retrieve_subscription(_: JsonObject, match: re.Match[str]) -> JsonObject:
        return subscription(match["id"])

    async def update_subscription(params: JsonObject, match: re.Match[str]) -> JsonObject:
        row = subscription(match["id"])
        previous: JsonObject = {}
        if "metadata" in params:
            previous["metadata"] = row["metadata"]
            row["metadata"] = metadata_of(params, row["metadata"])
        if "cancel_at_period_end" in params:
            previous["cancel_at_period_end"] = row["cancel_at_period_end"]
            row["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        if previous:
            await emit("customer.subscription.updated", row, previous)
        return row

    async def cancel_subscription(_: JsonObject, match: re.Match[str]) -> JsonObject:
        row = subscription(match["id"])
        if row["status"] == "canceled":
            raise StripeError(
                400,
                f"A canceled subscription can only update its cancellation_details and metadata. "
                f"{row['id']} is canceled.",
                code="resource_missing",
            )
        row.update(status="canceled", canceled_at=now(), ended_at=now())
        await emit("customer.subscription.deleted", row)
        return row

    def list_subscriptions(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = list(store.subscriptions.values())
        if params.get("customer"):
            rows = [row for row in rows if row["customer"] == params["customer"]]
        status = params.get("status")
        if status and status != "all":
            rows = [row for row in rows if row["status"] == status]
        elif not status:
            rows = [row for row in rows if row["status"] != "canceled"]
        return page(newest_first(rows), params, "/v1/subscriptions")

    # -- billing meters and meter events --------------------------------------------------------

    def meter(meter_id: str) -> JsonObject:
        found = store.meters.get(meter_id)
        if found is None:
            raise _no_such("billing.meter", meter_id)
        return found

    def create_meter(params: JsonObject, _: re.Match[str]) -> JsonObject:
        event_name = required(params, "event_name")
        display_name = required(params, "display_name")
        if any(
            row["event_name"] == event_name and row["status"] == "active" for row in store.meters.values()
        ):
            raise StripeError(
                400,
                f"An active meter with event_name `{event_name}` already exists.",
                code="resource_already_exists",
                param="event_name",
            )
        aggregation = params.get("default_aggregation")
        if not isinstance(aggregation, dict) or not aggregation.get("formula"):
            raise _missing("default_aggregation[formula]")
        if aggregation["formula"] not in ("sum", "count", "last"):
            raise _invalid("default_aggregation[formula]", f"Invalid formula: {aggregation['formula']}")
        mapping = params.get("customer_mapping") or {}
        values = params.get("value_settings") or {}
        row = base(
            "mtr",
            "billing.meter",
            display_name=display_name,
            event_name=event_name,
            status="active",
            default_aggregation={"formula": aggregation["formula"]},
            customer_mapping={
                "event_payload_key": mapping.get("event_payload_key", "stripe_customer_id"),
                "type": mapping.get("type", "by_id"),
            },
            value_settings={"event_payload_key": values.get("event_payload_key", "value")},
            event_time_window=params.get("event_time_window"),
            status_transitions={"deactivated_at": None},
            updated=now(),
        )
        store.meters[row["id"]] = row
        return row

    def retrieve_meter(_: JsonObject, match: re.Match[str]) -> JsonObject:
        return meter(match["id"])

    def list_meters(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = list(store.meters.values())
        if params.get("status"):
            rows = [row for row in rows if row["status"] == params["status"]]
        return page(newest_first(rows), params, "/v1/billing/meters")

    def create_meter_event(params: JsonObject, _: re.Match[str]) -> JsonObject:
        event_name = required(params, "event_name")
        payload = params.get("payload")
        if not isinstance(payload, dict) or not payload:
            raise _missing("payload")
        identifier = str(params.get("identifier") or _id("mev"))
        if len(identifier) > 100:
            raise _invalid("identifier", "Identifier must be at most 100 characters.")
        moment = _whole("timestamp", params["timestamp"]) if "timestamp" in params else now()
        if moment < now() - METER_EVENT_PAST_LIMIT:
            raise _invalid("timestamp", "Timestamp must be within the past 35 calendar days.")
        if moment > now() + METER_EVENT_FUTURE_LIMIT:
            raise _invalid("timestamp", "Timestamp must not be more than 5 minutes in the future.")
        # Stripe keeps identifiers unique (for at least 24 hours) and refuses a repeat rather than
        # counting it again: a retried send is answered 400 and must be taken as "already recorded".
        if identifier in store.identifiers:
            raise StripeError(
                400,
                f"An event already exists with identifier {identifier}.",
                code="resource_already_exists",
                param="identifier",
                headers={"Stripe-Should-Retry": "false"},
            )
        store.identifiers.add(identifier)
        row: JsonObject = {
            "object": "billing.meter_event",
            "created": now(),
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": dict(payload),
            "timestamp": moment,
        }
        store.meter_events.append(row)
        return row

    def meter_total(found: JsonObject, customer_id: str, start: int, end: int) -> Decimal:
        customer_key = found["customer_mapping"]["event_payload_key"]
        value_key = found["value_settings"]["event_payload_key"]
        total = Decimal(0)
        matched = [
            event
            for event in store.meter_events
            if event["event_name"] == found["event_name"]
            and event["payload"].get(customer_key) == customer_id
            and start <= event["timestamp"] < end
        ]
        formula = found["default_aggregation"]["formula"]
        if formula == "count":
            return Decimal(len(matched))
        for event in matched:
            try:
                value = Decimal(str(event["payload"].get(value_key, "0")))
            except InvalidOperation:
                continue  # Stripe reports such events in its error reports and does not count them
            total = value if formula == "last" else total + value
        return total

    def event_summaries(params: JsonObject, match: re.Match[str]) -> JsonObject:
        found = meter(match["id"])
        customer_id = required(params, "customer")
        start = _whole("start_time", required(params, "start_time"))
        end = _whole("end_time", required(params, "end_time"))
        window = params.get("value_grouping_window")
        step = {"hour": 3600, "day": 86400, None: 60}.get(window)
        if step is None:
            raise _invalid("value_grouping_window", f"Invalid value_grouping_window: {window}")
        if start % step or end % step:
            raise _invalid(
                "start_time", f"start_time and end_time must align with {window or 'minute'} boundaries."
            )
        if end <= start:
            raise _invalid("end_time", "end_time must be after start_time.")
        spans = [(start, end)] if window is None else [(t, t + step) for t in range(start, end, step)]
        rows = [
            {
                "id": "mtrusg_"
                + hashlib.sha256(f"{found['id']}:{customer_id}:{a}".encode()).hexdigest()[:24],
                "object": "billing.meter_event_summary",
                "aggregated_value": _number(meter_total(found, customer_id, a, b)),
                "start_time": a,
                "end_time": b,
                "livemode": False,
                "meter": found["id"],
            }
            for a, b in spans
        ]
        if window is not None:
            rows = [row for row in rows if row["aggregated_value"]]
        return page(rows, params, f"/v1/billing/meters/{found['id']}/event_summaries")

    # -- invoices -------------------------------------------------------------------------------

    def list_invoices(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = list(store.invoices.values())
        for name in ("customer", "subscription", "status"):
            if params.get(name):
                rows = [row for row in rows if row.get(name) == params[name]]
        return page(newest_first(rows), params, "/v1/invoices")

    def retrieve_invoice(_: JsonObject, match: re.Match[str]) -> JsonObject:
        found = store.invoices.get(match["id"])
        if found is None:
            raise _no_such("invoice", match["id"])
        return found

    async def close_period(customer_id: str, start: int, end: int) -> JsonObject:
        """Bill ``customer_id``'s metered prices for [start, end): meter sum × unit amount per item."""
        owner = customer(customer_id, "customer")
        lines: list[JsonObject] = []
        currency = "usd"
        chosen = [row for row in store.subscriptions.values() if row["customer"] == owner["id"]]
        for held in chosen:
            if held["status"] != "active":
                continue
            for item in held["items"]["data"]:
                price = item["price"]
                recurring = price["recurring"] or {}
                if recurring.get("usage_type") != "metered":
                    continue
                quantity = meter_total(meter(recurring["meter"]), owner["id"], start, end)
                amount = (quantity * Decimal(price["unit_amount_decimal"])).quantize(Decimal(1))
                currency = price["currency"]
                lines.append(
                    base(
                        "il",
                        "line_item",
                        amount=int(amount),
                        currency=currency,
                        quantity=_number(quantity),
                        description=f"{_number(quantity)} × {price['nickname'] or price['product']}",
                        period={"start": start, "end": end},
                        subscription=held["id"],
                        pricing={"price_details": {"price": price["id"], "product": price["product"]}},
                    )
                )
        total = sum(line["amount"] for line in lines)
        invoice = base(
            "in",
            "invoice",
            customer=owner["id"],
            subscription=chosen[0]["id"] if chosen else None,
            status="draft",
            currency=currency,
            amount_due=total,
            amount_paid=0,
            amount_remaining=total,
            subtotal=total,
            total=total,
            period_start=start,
            period_end=end,
            number=None,
            billing_reason="subscription_cycle",
            collection_method="charge_automatically",
            lines={"object": "list", "data": lines, "has_more": False, "url": "/v1/invoices/lines"},
            status_transitions={"finalized_at": None, "paid_at": None},
            metadata={},
        )
        store.invoices[invoice["id"]] = invoice
        await emit("invoice.created", invoice)
        invoice.update(status="open", number=f"{owner['invoice_prefix']}-{len(store.invoices):04d}")
        invoice["status_transitions"]["finalized_at"] = now()
        await emit("invoice.finalized", invoice, {"status": "draft"})
        invoice.update(status="paid", amount_paid=total, amount_remaining=0)
        invoice["status_transitions"]["paid_at"] = now()
        await emit("invoice.paid", invoice, {"status": "open"})
        return invoice

    # -- webhook endpoints ----------------------------------------------------------------------

    def create_webhook_endpoint(params: JsonObject, _: re.Match[str]) -> JsonObject:
        url = str(required(params, "url"))
        if not url.startswith(("http://", "https://")):
            raise _invalid("url", "Invalid URL: URL must be publicly accessible and use http(s).")
        events = params.get("enabled_events")
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list) or not events:
            raise _missing("enabled_events")
        row = base(
            "we",
            "webhook_endpoint",
            url=url,
            enabled_events=events,
            status="enabled",
            api_version=params.get("api_version"),
            description=params.get("description"),
            metadata=metadata_of(params),
            secret="whsec_" + secrets.token_urlsafe(32),
        )
        store.webhook_endpoints[row["id"]] = row
        return row

    def list_webhook_endpoints(params: JsonObject, _: re.Match[str]) -> JsonObject:
        rows = [{k: v for k, v in row.items() if k != "secret"} for row in store.webhook_endpoints.values()]
        return page(newest_first(rows), params, "/v1/webhook_endpoints")

    def retrieve_event(_: JsonObject, match: re.Match[str]) -> JsonObject:
        found = store.events.get(match["id"])
        if found is None:
            raise _no_such("event", match["id"])
        return found

    routes: list[tuple[str, re.Pattern[str], Handler]] = [
        (method, re.compile(f"^/v1/{pattern}$"), handler)
        for method, pattern, handler in (
            ("POST", "customers", create_customer),
            ("GET", "customers", list_customers),
            ("GET", "customers/(?P<id>cus_[^/]+)", retrieve_customer),
            ("POST", "customers/(?P<id>cus_[^/]+)", update_customer),
            ("POST", "products", create_product),
            ("GET", "products", list_products),
            ("POST", "prices", create_price),
            ("GET", "prices", list_prices),
            ("POST", "subscriptions", create_subscription),
            ("GET", "subscriptions", list_subscriptions),
            ("GET", "subscriptions/(?P<id>sub_[^/]+)", retrieve_subscription),
            ("POST", "subscriptions/(?P<id>sub_[^/]+)", update_subscription),
            ("DELETE", "subscriptions/(?P<id>sub_[^/]+)", cancel_subscription),
            ("POST", "billing/meters", create_meter),
            ("GET", "billing/meters", list_meters),
            ("GET", "billing/meters/(?P<id>mtr_[^/]+)", retrieve_meter),
            ("GET", "billing/meters/(?P<id>mtr_[^/]+)/event_summaries", event_summaries),
            ("POST", "billing/meter_events", create_meter_event),
            ("GET", "invoices", list_invoices),
            ("GET", "invoices/(?P<id>in_[^/]+)", retrieve_invoice),
            ("POST", "webhook_endpoints", create_webhook_endpoint),
            ("GET", "webhook_endpoints", list_webhook_endpoints),
            ("GET", "events/(?P<id>evt_[^/]+)", retrieve_event),
        )
    ]

    async def answer(request: Request[Any, Any, Any]) -> tuple[int, JsonObject, dict[str, str]]:
        key = authenticate(request)
        throttle(key)
        path = request.url.path
        method = request.method.upper()
        candidates = [(pattern, handler) for verb, pattern, handler in routes if pattern.match(path)]
        chosen = [
            (pattern, handler) for verb, pattern, handler in routes if verb == method and pattern.match(path)
        ]
        if not chosen:
            if candidates:
                raise StripeError(405, f"Unrecognized request URL ({method}: {path}).")
            raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")
        pattern, handler = chosen[0]
        match = pattern.match(path)
        assert match is not None
        raw = (await request.body()).decode() if method == "POST" else request.url.query
        pairs = parse_qsl(raw, keep_blank_values=True)
        params = parse_form(pairs)
        idempotency_key = request.headers.get("idempotency-key") if method == "POST" else None
        fingerprint = hashlib.sha256(f"{method} {path} {sorted(pairs)}".encode()).hexdigest()
        if idempotency_key:
            seen = store.idempotency.get((key, idempotency_key))
            if seen is not None:
                if seen[0] != fingerprint:
                    raise StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were"
                        f" first used with. Try using a key other than '{idempotency_key}' if you meant to"
                        " execute a different request.",
                        kind="idempotency_error",
                    )
                return seen[1], seen[2], {"Idempotent-Replayed": "true", "Idempotency-Key": idempotency_key}
        result = handler(params, match)
        body = await result if isinstance(result, Awaitable) else result
        # Stripe saves a result once the endpoint ran; refused parameters are not saved, so a fixed
        # request may reuse its key.
        if idempotency_key:
            store.idempotency[(key, idempotency_key)] = (fingerprint, 200, body)
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return 200, body, extra

    @route("/v1/{rest:path}", http_method=["GET", "POST", "DELETE"])
    async def api(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            status, body, headers = await answer(request)
        except StripeError as error:
            return error.response()
        return Response(
            content=body,
            status_code=status,
            headers={"Request-Id": _id("req"), "Stripe-Version": API_VERSION, **headers},
        )

    @post(f"{CONTROL}/close_period", status_code=200)
    async def close_period_route(data: JsonObject) -> Response[Any]:
        """``{"customer": "cus_…", "period_start": unix, "period_end": unix}`` → the paid invoice."""
        try:
            invoice = await close_period(
                str(data.get("customer") or ""),
                _whole("period_start", data.get("period_start")),
                _whole("period_end", data.get("period_end")),
            )
        except StripeError as error:
            return error.response()
        return Response(content=invoice)

    @post(f"{CONTROL}/forget_idempotency_keys", status_code=204)
    async def forget_idempotency_keys() -> None:
        """Stripe keeps idempotency keys for 24 hours; this is the day passing."""
        store.idempotency.clear()

    @get(f"{CONTROL}/deliveries")
    async def list_deliveries() -> list[JsonObject]:
        return store.deliveries

    @get(f"{CONTROL}/meter_events")
    async def list_meter_events() -> list[JsonObject]:
        return store.meter_events

    def fault_answer(fault: FaultSpec) -> Response[Any]:
        status = fault.status or 500
        headers = {"Stripe-Should-Retry": "true"}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        if status == 429:
            error = StripeError(
                429, fault.body or "Request rate limit exceeded.", code="rate_limit", headers=headers
            )
        else:
            error = StripeError(
                status,
                fault.body or "An unknown error occurred (injected fault).",
                kind="api_error",
                headers=headers,
            )
        return error.response()

    app = sandbox_app(
        [api, close_period_route, forget_idempotency_keys, list_deliveries, list_meter_events],
        fault_response=fault_answer,
    )
    app.state.control.reset_hooks.append(store.clear)
    app.state.store = store
    return app
