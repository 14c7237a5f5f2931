"""The Stripe sandbox through the real ``stripe`` SDK: shapes, pages, idempotent replays, meter event
de-duplication and summaries, rate limits the SDK retries through, and webhooks Stripe's verifier accepts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe
from litestar import Litestar, Request, post

from tests.connectors.serving import serve
from tests.connectors.stripe.conftest import API_KEY, Sandbox, client_for, serve_sandbox


def bearer(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def metered_setup(sdk: stripe.StripeClient, event_name: str = "records_synced") -> dict[str, Any]:
    customer = await sdk.v1.customers.create_async(params={"name": "Acme ERP", "metadata": {"partner": "p1"}})
    meter = await sdk.v1.billing.meters.create_async(
        params={
            "display_name": "Records synced",
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
        }
    )
    product = await sdk.v1.products.create_async(params={"name": "Records synced"})
    price = await sdk.v1.prices.create_async(
        params={
            "currency": "usd",
            "product": product.id,
            "unit_amount": 3,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        }
    )
    return {"customer": customer, "meter": meter, "product": product, "price": price}


def hour_floor(moment: float) -> int:
    return int(moment) // 3600 * 3600


class TestAuthentication:
    async def test_missing_key(self, sandbox: Sandbox) -> None:
        response = await sandbox.control.get("/v1/customers")
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert "API key" in response.json()["error"]["message"]

    async def test_not_a_test_key(self, sandbox: Sandbox) -> None:
        with pytest.raises(stripe.AuthenticationError) as refused:
            await client_for(sandbox.url, key="pk_live_nope").v1.customers.list_async()
        assert refused.value.http_status == 401


class TestObjects:
    async def test_customer_lifecycle_and_shapes(self, sandbox: Sandbox) -> None:
        created = await sandbox.sdk.v1.customers.create_async(
            params={"email": "billing@acme.example", "metadata": {"partner_id": "p-1"}}
        )
        assert created.id.startswith("cus_")
        assert created.object == "customer"
        assert created.livemode is False
        assert abs(created.created - time.time()) < 60
        assert created.metadata is not None
        assert created.metadata["partner_id"] == "p-1"
        updated = await sandbox.sdk.v1.customers.update_async(
            created.id, params={"name": "Acme", "metadata": {"tier": "gold"}}
        )
        assert updated.name == "Acme"
        assert updated.metadata is not None
        assert updated.metadata.to_dict() == {"partner_id": "p-1", "tier": "gold"}
        fetched = await sandbox.sdk.v1.customers.retrieve_async(created.id)
        assert fetched.name == "Acme"
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await sandbox.sdk.v1.customers.retrieve_async("cus_nothere")
        assert missing.value.http_status == 404
        assert missing.value.code == "resource_missing"

    async def test_pages_follow_starting_after(self, sandbox: Sandbox) -> None:
        made = [(await sandbox.sdk.v1.customers.create_async(params={"name": f"c{n}"})).id for n in range(5)]
        first = await sandbox.sdk.v1.customers.list_async(params={"limit": 2})
        assert first["object"] == "list"
        assert first.url == "/v1/customers"
        assert first.has_more is True
        assert [c.id for c in first.data] == made[::-1][:2]  # newest first, as Stripe lists
        seen = [c.id async for c in first.auto_paging_iter()]
        assert seen == made[::-1]
        raw = await sandbox.control.get(
            "/v1/customers", params={"limit": 2, "starting_after": made[0]}, headers=bearer()
        )
        assert raw.json() == {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}

    async def test_metered_price_and_subscription(self, sandbox: Sandbox) -> None:
        setup = await metered_setup(sandbox.sdk)
        assert setup["meter"].id.startswith("mtr_")
        assert setup["price"].id.startswith("price_")
        assert setup["price"].recurring.usage_type == "metered"
        assert setup["price"].recurring.meter == setup["meter"].id
        subscription = await sandbox.sdk.v1.subscriptions.create_async(
            params={"customer": setup["customer"].id, "items": [{"price": setup["price"].id}]}
        )
        assert subscription.id.startswith("sub_")
        assert subscription.status == "active"
        assert subscription["items"].data[0].price.id == setup["price"].id
        listed = await sandbox.sdk.v1.subscriptions.list_async(params={"customer": setup["customer"].id})
        assert [s.id for s in listed.data] == [subscription.id]
        other = await sandbox.sdk.v1.customers.create_async(params={"name": "other"})
        empty = await sandbox.sdk.v1.subscriptions.list_async(params={"customer": other.id})
        assert empty.data == []
        meters = await sandbox.sdk.v1.billing.meters.list_async()
        assert [m.event_name for m in meters.data] == ["records_synced"]
        prices = await sandbox.sdk.v1.prices.list_async(params={"product": setup["product"].id})
        assert [p.id for p in prices.data] == [setup["price"].id]

    async def test_a_metered_price_needs_a_meter(self, sandbox: Sandbox) -> None:
        product = await sandbox.sdk.v1.products.create_async(params={"name": "x"})
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await sandbox.sdk.v1.prices.create_async(
                params={
                    "currency": "usd",
                    "product": product.id,
                    "unit_amount": 1,
                    "recurring": {"interval": "month", "usage_type": "metered"},
                }
            )
        assert refused.value.param == "recurring[meter]"
        assert refused.value.http_status == 400


class TestIdempotency:
    async def test_same_key_same_body_is_replayed(self, sandbox: Sandbox) -> None:
        options: Any = {"idempotency_key": "create-acme"}
        first = await sandbox.sdk.v1.customers.create_async(params={"name": "Acme"}, options=options)
        again = await sandbox.sdk.v1.customers.create_async(params={"name": "Acme"}, options=options)
        assert again.id == first.id
        raw = await sandbox.control.post(
            "/v1/customers", data={"name": "Acme"}, headers={**bearer(), "Idempotency-Key": "create-acme"}
        )
        assert raw.headers["Idempotent-Replayed"] == "true"
        assert raw.json()["id"] == first.id
        listed = await sandbox.sdk.v1.customers.list_async()
        assert len(listed.data) == 1

    async def test_same_key_other_body_is_refused(self, sandbox: Sandbox) -> None:
        options: Any = {"idempotency_key": "create-acme"}
        await sandbox.sdk.v1.customers.create_async(params={"name": "Acme"}, options=options)
        with pytest.raises(stripe.IdempotencyError) as refused:
            await sandbox.sdk.v1.customers.create_async(params={"name": "Globex"}, options=options)
        assert refused.value.http_status == 400
        assert refused.value.error is not None
        assert refused.value.error.type == "idempotency_error"


class TestMeterEvents:
    async def test_a_repeated_identifier_is_refused_and_counted_once(self, sandbox: Sandbox) -> None:
        setup = await metered_setup(sandbox.sdk)
        customer, meter = setup["customer"].id, setup["meter"]
        hour = hour_floor(time.time()) - 3600
        event = {
            "event_name": "records_synced",
            "payload": {"stripe_customer_id": customer, "value": "40"},
            "identifier": "p1:records_synced:hour",
            "timestamp": hour + 10,
        }
        accepted = await sandbox.sdk.v1.billing.meter_events.create_async(params=event)  # type: ignore[arg-type]
        assert accepted.identifier == "p1:records_synced:hour"
        assert accepted.object == "billing.meter_event"
        with pytest.raises(stripe.InvalidRequestError) as repeated:
            await sandbox.sdk.v1.billing.meter_events.create_async(params=event)  # type: ignore[arg-type]
        assert repeated.value.http_status == 400
        assert repeated.value.code == "resource_already_exists"
        assert "already exists with identifier" in str(repeated.value.user_message)
        await sandbox.sdk.v1.billing.meter_events.create_async(
            params={**event, "identifier": "p1:records_synced:next", "timestamp": hour + 3700}  # type: ignore[typeddict-item]
        )
        whole = await sandbox.sdk.v1.billing.meters.event_summaries.list_async(
            meter.id, params={"customer": customer, "start_time": hour, "end_time": hour + 7200}
        )
        assert [s.aggregated_value for s in whole.data] == [80]
        hourly = await sandbox.sdk.v1.billing.meters.event_summaries.list_async(
            meter.id,
            params={
                "customer": customer,
                "start_time": hour,
                "end_time": hour + 7200,
                "value_grouping_window": "hour",
            },
        )
        assert [(s.start_time, s.aggregated_value) for s in hourly.data] == [(hour, 40), (hour + 3600, 40)]
        assert hourly.data[0].object == "billing.meter_event_summary"

    async def test_missing_and_stale_fields_are_refused(self, sandbox: Sandbox) -> None:
        raw = await sandbox.control.post(
            "/v1/billing/meter_events", data={"payload[value]": "1"}, headers=bearer()
        )
        assert raw.status_code == 400
        assert raw.json()["error"] == {
            "type": "invalid_request_error",
            "code": "parameter_missing",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
            "message": "Missing required param: event_name.",
            "param": "event_name",
        }
        with pytest.raises(stripe.InvalidRequestError) as stale:
            await sandbox.sdk.v1.billing.meter_events.create_async(
                params={
                    "event_name": "records_synced",
                    "payload": {"stripe_customer_id": "cus_x", "value": "1"},
                    "timestamp": int(time.time()) - 40 * 86400,
                }
            )
        assert stale.value.param == "timestamp"


@pytest.fixture
async def slow_sandbox() -> AsyncIterator[Sandbox]:
    async for served in serve_sandbox(rate_limit=1.0):
        yield served


class TestRateLimits:
    async def test_over_the_rate_429_with_retry_after(self, slow_sandbox: Sandbox) -> None:
        first = await slow_sandbox.control.get("/v1/customers", headers=bearer())
        second = await slow_sandbox.control.get("/v1/customers", headers=bearer())
        assert first.status_code == 200
        assert second.status_code == 429
        assert second.headers["Retry-After"] == "1"
        assert second.headers["Stripe-Should-Retry"] == "true"
        assert second.json()["error"]["code"] == "rate_limit"
        assert second.json()["error"]["type"] == "invalid_request_error"
        other_key = await slow_sandbox.control.get("/v1/customers", headers=bearer("sk_test_another_key"))
        assert other_key.status_code == 200  # the rate is per API key

    async def test_the_sdk_retries_through_a_429(self, slow_sandbox: Sandbox) -> None:
        await slow_sandbox.control.get("/v1/customers", headers=bearer())  # spends the bucket
        listed = await slow_sandbox.sdk.v1.customers.list_async()
        assert listed.data == []
        assert len(await slow_sandbox.requests_to("/v1/customers")) >= 3  # one 429 at least, then 200

    async def test_injected_faults_have_stripes_shape(self, sandbox: Sandbox) -> None:
        await sandbox.fault(status=503, count=2)
        created = await sandbox.sdk.v1.customers.create_async(params={"name": "after the burst"})
        assert created.id.startswith("cus_")
        assert len(await sandbox.requests_to("/v1/customers")) == 3
        await sandbox.fault(status=429, count=5, retry_after=2)
        with pytest.raises(stripe.RateLimitError) as limited:
            await client_for(sandbox.url, retries=0).v1.customers.list_async()
        assert limited.value.headers is not None
        assert limited.value.headers["retry-after"] == "2"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, bytes]]]]:
    """A webhook endpoint keeping what it was sent (signature header, raw body)."""
    received: list[tuple[str, bytes]] = []

    @post("/hooks/stripe", status_code=200)
    async def take(request: Request[Any, Any, Any]) -> None:
        received.append((request.headers.get("stripe-signature", ""), await request.body()))

    async with serve(Litestar([take])) as url:
        yield f"{url}/hooks/stripe", received


class TestWebhooks:
    async def test_events_are_signed_as_stripe_signs_them(
        self, sandbox: Sandbox, receiver: tuple[str, list[tuple[str, bytes]]]
    ) -> None:
        url, received = receiver
        endpoint = await sandbox.sdk.v1.webhook_endpoints.create_async(
            params={"url": url, "enabled_events": ["customer.subscription.created", "invoice.paid"]}
        )
        assert endpoint.secret is not None
        assert endpoint.secret.startswith("whsec_")
        setup = await metered_setup(sandbox.sdk)
        subscription = await sandbox.sdk.v1.subscriptions.create_async(
            params={"customer": setup["customer"].id, "items": [{"price": setup["price"].id}]}
        )
        hour = hour_floor(time.time()) - 3600
        await sandbox.sdk.v1.billing.meter_events.create_async(
            params={
                "event_name": "records_synced",
                "payload": {"stripe_customer_id": setup["customer"].id, "value": "250"},
                "timestamp": hour,
            }
        )
        closed = await sandbox.control.post(
            "/_sandbox/stripe/close_period",
            json={"customer": setup["customer"].id, "period_start": hour, "period_end": hour + 3600},
        )
        assert closed.status_code == 200
        assert closed.json()["amount_due"] == 750  # 250 records × 3 cents
        events = [
            stripe.Webhook.construct_event(body, signature, endpoint.secret) for signature, body in received
        ]
        assert [event.type for event in events] == ["customer.subscription.created", "invoice.paid"]
        assert events[0].data.object.id == subscription.id
        assert events[1].data.object.status == "paid"
        assert events[1].data.object.amount_paid == 750
        invoices = await sandbox.sdk.v1.invoices.list_async(params={"customer": setup["customer"].id})
        assert [invoice.id for invoice in invoices.data] == [events[1].data.object.id]
        signature, body = received[0]
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body, signature, "whsec_not_the_secret")
        deliveries = (await sandbox.control.get("/_sandbox/stripe/deliveries")).json()
        assert [d["status"] for d in deliveries] == [200, 200]

    async def test_an_unreachable_endpoint_is_recorded(self, sandbox: Sandbox) -> None:
        await sandbox.sdk.v1.webhook_endpoints.create_async(
            params={"url": "http://127.0.0.1:9/hooks", "enabled_events": ["*"]}
        )
        setup = await metered_setup(sandbox.sdk)
        await sandbox.sdk.v1.subscriptions.create_async(
            params={"customer": setup["customer"].id, "items": [{"price": setup["price"].id}]}
        )
        deliveries = (await sandbox.control.get("/_sandbox/stripe/deliveries")).json()
        assert len(deliveries) == 1
        assert deliveries[0]["status"] is None
        assert deliveries[0]["error"]
        assert httpx.URL(deliveries[0]["url"]).port == 9
