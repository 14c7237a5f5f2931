"""``POST /hooks/stripe``: Stripe's events about partners' subscriptions and invoices.

No API key: Stripe's signature (``Stripe-Signature``, checked by ``stripe.Webhook.construct_event``
with ``STRIPE_WEBHOOK_SECRET`` and its five-minute tolerance) is the credential. Each event id is
applied once; a redelivery answers 200 and changes nothing.
"""

from __future__ import annotations

from typing import Any

import msgspec
import stripe
from litestar import Controller, Request, post

from app.billing.service import apply_stripe_event
from app.database.scope import DbScope
from app.http.problems import Problem
from app.http.state import services_of

MAX_BODY_BYTES = 1024 * 1024


class StripeHookOutcome(msgspec.Struct):
    event_id: str
    type: str
    duplicate: bool
    """True when the event had been received before (nothing was applied again)."""


class StripeHookController(Controller):
    path = "/hooks/stripe"
    tags = ["webhooks"]

    @post("/", operation_id="ReceiveStripeWebhook", status_code=200, security=[])
    async def receive(self, request: Request[Any, Any, Any]) -> StripeHookOutcome:
        """Verify a Stripe-signed event and apply it once (subscription status, partner invoices)."""
        services = services_of(request)
        secret = services.settings.stripe_webhook_secret
        if not secret:
            raise Problem(503, "Stripe webhooks are not configured here (STRIPE_WEBHOOK_SECRET).")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise Problem(413, f"A Stripe event may be at most {MAX_BODY_BYTES} bytes.")
        try:
            event = stripe.Webhook.construct_event(body, request.headers.get("stripe-signature"), secret)
        except stripe.SignatureVerificationError as error:
            raise Problem(
                400,
                "The Stripe signature is missing, invalid or too old.",
                type_slug="invalid-signature",
                errors=[{"path": "headers.stripe-signature", "reason": str(error)}],
            ) from None
        except ValueError:
            raise Problem(
                400,
                "The body is not a Stripe event.",
                errors=[{"path": "body", "reason": "not a JSON event"}],
            ) from None
        async with services.db.transaction(DbScope.system()) as session:
            applied = await apply_stripe_event(session, event, services.clock.now())
        return StripeHookOutcome(event.id, event.type, duplicate=not applied)
