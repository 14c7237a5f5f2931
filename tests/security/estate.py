"""One retailer's estate seeded through the API: a resource behind every ``{id}`` of ``/api/v1``, and the
secrets that went in, so tests can look for them where they must never come out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import DeadLetter
from app.tenant_data.export import request_export
from connectors.recipes import default_recipe
from tenants.api_keys import SCOPES
from tenants.audit import Actor
from tenants.models import Tenant
from tests import factories
from tests.app.api.calls import bearer

PROMOTION_START = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Estate:
    """What one tenant owns. ``ids`` maps an OpenAPI path parameter name to the tenant's value for it."""

    tenant: Tenant
    key: str
    """An API key holding every scope."""
    ids: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    """What was sent in as a secret, by what it is (never to be seen again in full)."""


async def _created(client: AsyncTestClient[Any], key: str, path: str, body: dict[str, Any]) -> Any:
    response = await client.post(path, json=body, headers=bearer(key))
    assert response.status_code in (201, 202), f"{path}: {response.text}"
    return response.json()


async def seed_estate(client: AsyncTestClient[Any], db: Database, tenant: Tenant) -> Estate:
    """A webhook and a REST connection, a recipe, a flow with a run, a promotion, an alert rule, an extra
    API key, a dead letter and a data export, all in ``tenant``."""
    key = await factories.make_api_key(db, tenant, list(SCOPES), name="everything")
    tag = tenant.slug
    estate = Estate(tenant, key)
    estate.secrets = {
        "api key": key,
        "webhook secret": f"whsec-{tag}-{uuid.uuid4().hex}",
        "connection api key": f"rest-{tag}-{uuid.uuid4().hex}",
    }
    hook = await _created(
        client,
        key,
        "/api/v1/connections",
        {"name": "hook", "template": "webhook", "config": {"secret": estate.secrets["webhook secret"]}},
    )
    shop = await _created(
        client,
        key,
        "/api/v1/connections",
        {
            "name": "shop",
            "template": "rest",
            "config": {"base_url": "https://shop.example", "api_key": estate.secrets["connection api key"]},
        },
    )
    recipe = await _created(
        client,
        key,
        "/api/v1/recipes",
        {"name": "prices", "domain": "prices", "spec": default_recipe("rest", "prices", "outbound")},
    )
    flow = await _created(
        client,
        key,
        "/api/v1/flows",
        {
            "name": "prices out",
            "domain": "prices",
            "destinations": [{"connection_id": shop["id"], "recipe_id": recipe["recipe"]["id"]}],
        },
    )
    run = await _created(client, key, f"/api/v1/flows/{flow['id']}/runs", {"kind": "full"})
    promotion = await _created(
        client,
        key,
        "/api/v1/promotions",
        {
            "promotion": {
                "code": "XMAS-20",
                "name": "Christmas 20 %",
                "rule": {"type": "percent_off", "percent": "20"},
                "window": {
                    "starts_at": PROMOTION_START.isoformat(),
                    "ends_at": (PROMOTION_START + timedelta(days=7)).isoformat(),
                },
                "eligibility": {"skus": ["TEA-1"]},
            }
        },
    )
    rule = await _created(
        client,
        key,
        "/api/v1/alert-rules",
        {
            "name": "dead letters",
            "metric": "dead_letters_open",
            "threshold": 0,
            "webhook_url": "https://ops.example/alerts",
        },
    )
    estate.secrets["alert webhook secret"] = rule["webhook_secret"]
    extra_key = await _created(client, key, "/api/v1/api-keys", {"name": "reader", "scopes": ["tenant:read"]})
    estate.secrets["created api key"] = extra_key["secret"]
    async with db.transaction(DbScope.system()) as session:
        letter = DeadLetter(
            tenant_id=tenant.id,
            destination_id=uuid.UUID(flow["destinations"][0]["id"]),
            entity_key="TEA-1",
            record_type="price_change",
            payload={"sku": "TEA-1", "amount": "10.00", "currency": "EUR"},
            error="HTTP 500 from the shop",
            attempts=5,
            correlation_id=f"corr-{tag}",
        )
        session.add(letter)
        await session.flush()
        dead_letter_id = letter.id
    async with db.transaction(DbScope.for_tenant(tenant.id, tenant.partner_id)) as session:
        export = await request_export(session, Actor("tests"), tenant_id=tenant.id, requested_by=None)
    estate.ids = {
        "connection_id": hook["id"],
        "recipe_id": recipe["recipe"]["id"],
        "version": "1",
        "flow_id": flow["id"],
        "run_id": run["id"],
        "promotion_id": promotion["id"],
        "rule_id": rule["id"],
        "key_id": extra_key["key"]["id"],
        "dead_letter_id": str(dead_letter_id),
        "export_id": str(export.id),
    }
    return estate
