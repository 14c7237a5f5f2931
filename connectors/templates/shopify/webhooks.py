"""Shopify ``orders/create`` webhooks: the HMAC check on ``X-Shopify-Hmac-Sha256`` and the order payload.

Shopify signs the raw body with the app's secret (``base64(HMAC-SHA256(body))``, no timestamp), so
replays are caught downstream by the order's dedup key. The REST-shaped payload is turned into the same
flat order dict that ``read(orders)`` yields, so one inbound recipe serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.sdk.webhooks import WebhookScheme, WebhookSignatureError, verify

SCHEME = WebhookScheme(header="X-Shopify-Hmac-Sha256", format="body")
TOPIC_HEADER = "X-Shopify-Topic"
ORDERS_CREATE = "orders/create"
_FULFILMENT = {None: "UNFULFILLED", "fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED"}


def order_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The flat order dict (see ``records``) of a REST order payload."""
    fulfilment = payload.get("fulfillment_status")
    financial = payload.get("financial_status")
    lines = [
        {
            "sku": line.get("sku"),
            "quantity": line.get("quantity"),
            "unit_price": str(line.get("price")),
            "discount": str(line.get("total_discount") or "0"),
        }
        for line in payload.get("line_items", [])
    ]
    return {
        "id": payload.get("admin_graphql_api_id") or f"gid://shopify/Order/{payload.get('id')}",
        "order_id": payload.get("name"),
        "email": payload.get("email"),
        "created_at": payload.get("created_at"),
        "updated_at": payload.get("updated_at"),
        "cancelled_at": payload.get("cancelled_at"),
        "currency": payload.get("currency"),
        "financial_status": financial.upper() if isinstance(financial, str) else None,
        "fulfillment_status": _FULFILMENT.get(fulfilment, str(fulfilment).upper()),
        "total": str(payload.get("total_price")),
        "total_discounts": str(payload.get("total_discounts") or "0"),
        "total_tax": str(payload.get("total_tax") or "0"),
        "lines": lines,
    }


def parse_order_webhook(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: float
) -> dict[str, Any]:
    """Verify an ``orders/create`` delivery and return its order; ``WebhookSignatureError`` says why not."""
    if not secrets:
        raise WebhookSignatureError("no webhook secret is configured for this connection")
    verify(SCHEME, list(secrets), headers, body, now)
    topic = {k.lower(): v for k, v in headers.items()}.get(TOPIC_HEADER.lower())
    if topic is not None and topic != ORDERS_CREATE:
        raise WebhookSignatureError(f"unexpected topic {topic!r}; this endpoint takes {ORDERS_CREATE}")
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookSignatureError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookSignatureError("the body is not a JSON object")
    return order_from_payload(payload)
