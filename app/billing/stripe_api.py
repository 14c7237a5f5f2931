"""The Stripe client Shelfsync bills partners with (the real ``stripe`` SDK, pointed at
``STRIPE_API_BASE`` when set) and what its errors mean for a meter report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import stripe

from app.settings import Settings

SDK_RETRIES = 2
"""Quick retries the SDK makes itself (same idempotency key) before a job backs off for longer."""

Verdict = Literal["recorded", "transient", "permanent"]


class BillingNotConfiguredError(RuntimeError):
    """``STRIPE_API_KEY`` is not set."""


@asynccontextmanager
async def stripe_client(settings: Settings) -> AsyncIterator[stripe.StripeClient]:
    """A ``StripeClient`` with an async HTTP client of its own, closed afterwards (jobs run in any loop)."""
    if not settings.stripe_api_key:
        raise BillingNotConfiguredError("STRIPE_API_KEY is not set")
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
        http_client=http_client,
        max_network_retries=SDK_RETRIES,
    )
    try:
        yield client
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]


def is_repeated_identifier(error: stripe.StripeError) -> bool:
    """Stripe refuses a meter event whose ``identifier`` it already holds (400, ``invalid_request_error``,
    "An event already exists with identifier …"): the usage is recorded there already."""
    if not isinstance(error, stripe.InvalidRequestError):
        return False
    message = (error.user_message or str(error)).lower()
    return "already exists with identifier" in message or (
        error.code == "resource_already_exists" and error.param == "identifier"
    )


def verdict_of(error: stripe.StripeError) -> Verdict:
    """What a failed meter event send means: already recorded, worth retrying later, or never going
    to succeed as sent (a bad request other than a repeat)."""
    if is_repeated_identifier(error):
        return "recorded"
    if isinstance(error, (stripe.RateLimitError, stripe.APIConnectionError, stripe.IdempotencyError)):
        return "transient"
    # a key being rotated or revoked is fixed by an operator; the report waits for it
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        return "transient"
    if error.http_status is None or error.http_status >= 500 or error.http_status in (409, 429):
        return "transient"
    return "permanent"


def retry_after_of(error: stripe.StripeError) -> float | None:
    """Seconds from a ``Retry-After`` header, when Stripe sent one."""
    raw = (error.headers or {}).get("retry-after") or (error.headers or {}).get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
