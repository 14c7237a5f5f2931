"""Writing percent-off promotions: create, update, deactivate (``enabled: false``).

Vendure promotions have no external-id field, so the Shelfsync code is kept in the promotion's
description (``shelfsync:<code>``) and every batch finds its existing promotions in one query.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.sdk.results import WriteResult
from connectors.templates.vendure import operations
from connectors.templates.vendure.graphql import GraphqlError, VendureGraphql
from connectors.templates.vendure.payloads import (
    PayloadError,
    check_fields,
    instant,
    percent,
    text,
    whole,
)
from connectors.templates.vendure.variants import variant_ids

MARKER_PREFIX = "shelfsync:"
FIELDS = frozenset(
    {
        "code",
        "name",
        "enabled",
        "couponCode",
        "startsAt",
        "endsAt",
        "percent",
        "skus",
        "minimumOrderAmount",
        "usageLimit",
        "perCustomerUsageLimit",
    }
)


def marker(code: str) -> str:
    return f"{MARKER_PREFIX}{code}"


def _argument(name: str, value: Any) -> dict[str, str]:
    # Vendure takes every configurable-operation argument as a string; lists as JSON.
    text_value = (
        json.dumps(value)
        if isinstance(value, list)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )
    return {"name": name, "value": text_value}


def promotion_input(
    payload: Mapping[str, Any], variant_id: Mapping[str, str], language: str
) -> dict[str, Any]:
    """The fields of a Create/UpdatePromotionInput that ``payload`` sets (no ``id``)."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"a payload must be an object, got {type(payload).__name__}")
    check_fields(payload, FIELDS, frozenset({"code"}))
    code = text(payload, "code")
    fields: dict[str, Any] = {}
    if "enabled" in payload:
        if not isinstance(payload["enabled"], bool):
            raise PayloadError(f"enabled must be true or false, got {payload['enabled']!r}")
        fields["enabled"] = payload["enabled"]
    for name in ("startsAt", "endsAt"):
        if payload.get(name) is not None:
            fields[name] = instant(payload, name)
    if payload.get("couponCode") is not None:
        fields["couponCode"] = text(payload, "couponCode")
    for name in ("usageLimit", "perCustomerUsageLimit"):
        if payload.get(name) is not None:
            fields[name] = whole(payload, name, minimum=1)
    if payload.get("name") is not None:
        fields["translations"] = [
            {"languageCode": language, "name": text(payload, "name"), "description": marker(code)}
        ]
    if payload.get("percent") is not None:
        fields["conditions"] = [_minimum_condition(payload)]
        fields["actions"] = [_percent_action(payload, variant_id)]
    return fields


def _minimum_condition(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Always one condition, so a promotion without a coupon code is valid (Vendure wants either)."""
    minimum = whole(payload, "minimumOrderAmount") if payload.get("minimumOrderAmount") is not None else 0
    return {
        "code": "minimum_order_amount",
        "arguments": [_argument("amount", minimum), _argument("taxInclusive", False)],
    }


def _percent_action(payload: Mapping[str, Any], variant_id: Mapping[str, str]) -> dict[str, Any]:
    discount = _argument("discount", percent(payload, "percent"))
    skus = payload.get("skus") or []
    if not isinstance(skus, list) or not all(isinstance(s, str) and s for s in skus):
        raise PayloadError(f"skus must be a list of SKUs, got {skus!r}")
    if not skus:
        return {"code": "order_percentage_discount", "arguments": [discount]}
    unknown = [sku for sku in skus if sku not in variant_id]
    if unknown:
        raise PayloadError(f"no Vendure product variant has SKU {', '.join(map(repr, unknown))}")
    ids = [variant_id[sku] for sku in skus]
    return {
        "code": "products_percentage_discount",
        "arguments": [discount, _argument("productVariantIds", ids)],
    }


async def existing_promotions(graphql: VendureGraphql, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Promotions this connector created before, by Shelfsync code."""
    markers = sorted({marker(code) for code in codes})
    if not markers:
        return {}
    data = await graphql.execute(
        operations.PROMOTIONS_BY_DESCRIPTION,
        {"descriptions": markers, "take": len(markers)},
        operation="promotion lookup",
    )
    return {item["description"][len(MARKER_PREFIX) :]: item for item in data["promotions"]["items"]}


async def write_promotions(
    graphql: VendureGraphql, payloads: Sequence[Mapping[str, Any]], language: str
) -> list[WriteResult]:
    codes = [p["code"] for p in payloads if isinstance(p, Mapping) and isinstance(p.get("code"), str)]
    skus = [
        sku
        for p in payloads
        if isinstance(p, Mapping) and isinstance(p.get("skus"), list)
        for sku in p["skus"]
        if isinstance(sku, str)
    ]
    existing = await existing_promotions(graphql, codes)
    variant_id = await variant_ids(graphql, skus)
    results: list[WriteResult] = []
    for index, payload in enumerate(payloads):
        code = payload.get("code") if isinstance(payload, Mapping) else None
        key = code if isinstance(code, str) else None
        try:
            fields = promotion_input(payload, variant_id, language)
            found = existing.get(str(code))
            if found is None:
                result = await _create(graphql, payload, fields)
            else:
                result = await _run(
                    graphql, operations.UPDATE_PROMOTION, {"id": found["id"], **fields}, "updatePromotion"
                )
        except (PayloadError, GraphqlError) as error:
            results.append(WriteResult.failed(index, str(error), key))
            continue
        existing[str(code)] = result
        results.append(WriteResult.ok(index, key, result["id"]))
    return results


async def _create(
    graphql: VendureGraphql, payload: Mapping[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    missing = [name for name in ("name", "percent") if payload.get(name) is None]
    if missing:
        raise PayloadError(
            f"no Vendure promotion has code {payload['code']!r} yet; creating one needs {', '.join(missing)}"
        )
    return await _run(graphql, operations.CREATE_PROMOTION, {"enabled": True, **fields}, "createPromotion")


async def _run(
    graphql: VendureGraphql, document: str, input_: dict[str, Any], operation: str
) -> dict[str, Any]:
    data = await graphql.execute(document, {"input": input_}, operation=operation)
    result: dict[str, Any] = data[operation]
    if result.get("__typename") != "Promotion":
        raise GraphqlError(
            f"Vendure rejected {operation}: {result.get('message') or result.get('errorCode')}",
            (str(result.get("errorCode", "")),),
        )
    return result
