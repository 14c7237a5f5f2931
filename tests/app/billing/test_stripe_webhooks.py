"""``POST /hooks/stripe`` with the events the Stripe sandbox signed: verified with Stripe's own check,
applied once (subscription status, partner invoices); bad, missing and stale signatures refused."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.billing.models import BillingAccount, PartnerInvoice, StripeEvent
from app.billing.service import hour_floor
from app.clock import FrozenClock
from app.database.engine import Database
from app.database.scope import DbScope
from connectors.sandboxes.stripe import sign
from tests.app.api.calls import assert_problem
from tests.app.billing.conftest import API_KEY, StripeSandbox
from tests.factories import World


async def hand_over(
    client: AsyncTestClient[Litestar], delivery: dict[str, Any], signature: str | None = None
) -> Any:
    """POST a delivery the sandbox made (its exact body) to our endpoint, as Stripe would."""
    headers = {"Content-Type": "application/json"}
    chosen = delivery["signature"] if signature is None else signature
    if chosen:
        headers["Stripe-Signature"] = chosen
    return await client.post("/hooks/stripe", content=delivery["payload"].encode(), headers=headers)


async def account_of(db: Database, world: World) -> BillingAccount:
    async with db.transaction(DbScope.system()) as session:
        account = await session.get(BillingAccount, world.partner_a.id)
        assert account is not None
        return account


class TestStripeWebhook:
    async def test_bad_signature(
        self, client: AsyncTestClient[Litestar], billed: Any, stripe_sandbox: StripeSandbox
    ) -> None:
        delivery = stripe_sandbox.deliveries()[0]
        forged = sign(delivery["payload"], "whsec_someone_else", int(time.time()))
        body = assert_problem(await hand_over(client, delivery, forged), 400, "invalid-signature")
        assert body["errors"][0]["path"] == "headers.stripe-signature"  # type: ignore[index]
        tampered = {**delivery, "payload": delivery["payload"].replace('"active"', '"canceled"')}
        assert_problem(await hand_over(client, tampered), 400, "invalid-signature")

    async def test_missing_signature(
        self, client: AsyncTestClient[Litestar], billed: Any, stripe_sandbox: StripeSandbox
    ) -> None:
        delivery = stripe_sandbox.deliveries()[0]
        assert_problem(await hand_over(client, delivery, ""), 400, "invalid-signature")

    async def test_stale_timestamp(
        self, client: AsyncTestClient[Litestar], db: Database, billed: Any, stripe_sandbox: StripeSandbox
    ) -> None:
        delivery = stripe_sandbox.deliveries()[0]
        stale = sign(delivery["payload"], stripe_sandbox.webhook_secret, int(time.time()) - 600)
        body = assert_problem(await hand_over(client, delivery, stale), 400, "invalid-signature")
        assert "tolerance" in str(body["errors"])
        async with db.transaction(DbScope.system()) as session:
            assert await session.scalar(select(func.count()).select_from(StripeEvent)) == 0

    async def test_valid_events_are_applied_once(
        self,
        client: AsyncTestClient[Litestar],
        db: Database,
        world: World,
        clock: FrozenClock,
        billed: Any,
        stripe_sandbox: StripeSandbox,
    ) -> None:
        [created] = stripe_sandbox.deliveries()
        assert created["type"] == "customer.subscription.created"
        answer = await hand_over(client, created)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"event_id": created["event_id"], "type": created["type"], "duplicate": False}
        again = await hand_over(client, created)  # Stripe delivers at least once
        assert again.status_code == 200
        assert again.json()["duplicate"] is True

        # the period closes: Stripe bills the metered usage and tells us about the invoice
        start = hour_floor(clock.now()) - timedelta(hours=3)
        stripe_sandbox.control.post(
            "/v1/billing/meter_events",
            data={
                "event_name": "shelfsync_records_synced",
                "payload[stripe_customer_id]": billed.stripe_customer_id,
                "payload[value]": "2000",
                "timestamp": str(int(start.timestamp())),
            },
            headers={"Authorization": f"Bearer {API_KEY}"},
        ).raise_for_status()
        closed = stripe_sandbox.control.post(
            "/_sandbox/stripe/close_period",
            json={
                "customer": billed.stripe_customer_id,
                "period_start": int(start.timestamp()),
                "period_end": int(start.timestamp()) + 3600,
            },
        )
        assert closed.status_code == 200
        invoice_events = stripe_sandbox.deliveries()[1:]
        assert [d["type"] for d in invoice_events] == ["invoice.created", "invoice.finalized", "invoice.paid"]
        # handed over out of order and twice: the invoice ends paid, recorded once
        for delivery in [invoice_events[2], invoice_events[0], invoice_events[1], invoice_events[2]]:
            assert (await hand_over(client, delivery)).status_code == 200
        async with db.transaction(DbScope.system()) as session:
            invoices = list(await session.scalars(select(PartnerInvoice)))
            events = await session.scalar(select(func.count()).select_from(StripeEvent))
        assert len(invoices) == 1
        assert invoices[0].partner_id == world.partner_a.id
        assert invoices[0].stripe_invoice_id == closed.json()["id"]
        assert (invoices[0].status, invoices[0].amount_due, invoices[0].currency) == ("paid", 100, "usd")
        assert invoices[0].period_start == start
        assert events == 4

        # the subscription is cancelled in Stripe: the account follows
        stripe_sandbox.control.delete(
            f"/v1/subscriptions/{billed.stripe_subscription_id}",
            headers={"Authorization": f"Bearer {API_KEY}"},
        ).raise_for_status()
        deleted = stripe_sandbox.deliveries()[-1]
        assert deleted["type"] == "customer.subscription.deleted"
        assert (await hand_over(client, deleted)).status_code == 200
        assert (await account_of(db, world)).subscription_status == "canceled"

    async def test_not_a_stripe_event(
        self, client: AsyncTestClient[Litestar], stripe_sandbox: StripeSandbox
    ) -> None:
        payload = "not json"
        signed = sign(payload, stripe_sandbox.webhook_secret, int(time.time()))
        response = await client.post("/hooks/stripe", content=payload, headers={"Stripe-Signature": signed})
        assert_problem(response, 400, "bad-request")

    async def test_an_unknown_customer_is_recorded_and_ignored(
        self, client: AsyncTestClient[Litestar], db: Database, stripe_sandbox: StripeSandbox
    ) -> None:
        event = {
            "id": "evt_elsewhere",
            "object": "event",
            "type": "invoice.paid",
            "created": int(time.time()),
            "data": {"object": {"id": "in_x", "object": "invoice", "customer": "cus_unknown"}},
        }
        payload = json.dumps(event)
        delivery = {
            "payload": payload,
            "signature": sign(payload, stripe_sandbox.webhook_secret, int(time.time())),
        }
        response = await hand_over(client, delivery)
        assert response.status_code == 200
        async with db.transaction(DbScope.system()) as session:
            assert await session.scalar(select(func.count()).select_from(PartnerInvoice)) == 0
            stored = await session.get(StripeEvent, "evt_elsewhere")
        assert stored is not None
        assert stored.partner_id is None
