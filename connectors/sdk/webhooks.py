"""Signed webhooks: HMAC-SHA256 signatures, checked in constant time, with a replay window.

Two wire formats:
- ``timestamped`` (ours and Stripe's shape): header ``<name>: t=<unix seconds>,v1=<hex>`` where the
  signature covers ``"<t>.<body>"``; a timestamp outside the replay window is refused.
- ``body`` (Shopify's shape): header value is ``base64(HMAC-SHA256(body))``; no timestamp, so replays
  are caught by the event's dedup key downstream.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DEFAULT_REPLAY_WINDOW_SECONDS = 300


class WebhookSignatureError(Exception):
    """Why a webhook was refused; safe to return to the sender."""


@dataclass(frozen=True, slots=True)
class WebhookScheme:
    header: str = "X-Shelfsync-Signature"
    format: Literal["timestamped", "body"] = "timestamped"
    replay_window_seconds: int = DEFAULT_REPLAY_WINDOW_SECONDS


def _digest(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def sign(scheme: WebhookScheme, secret: str, body: bytes, timestamp: int) -> str:
    """The header value a sender puts on ``body`` (used by sandboxes and by outbound webhooks)."""
    if scheme.format == "body":
        return base64.b64encode(_digest(secret, body)).decode()
    signature = _digest(secret, str(timestamp).encode() + b"." + body).hex()
    return f"t={timestamp},v1={signature}"


def verify(
    scheme: WebhookScheme, secrets: list[str], headers: Mapping[str, str], body: bytes, now: float
) -> None:
    """Return if one of ``secrets`` (current and previous, for rotation) signed ``body``; else raise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get(scheme.header.lower())
    if not value:
        raise WebhookSignatureError(f"missing {scheme.header} header")
    if scheme.format == "body":
        expected = [base64.b64encode(_digest(s, body)).decode() for s in secrets]
        if not any(hmac.compare_digest(value.strip(), e) for e in expected):
            raise WebhookSignatureError("signature does not match the body")
        return
    parts = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        raise WebhookSignatureError("signature header has no valid t= timestamp") from None
    if abs(now - timestamp) > scheme.replay_window_seconds:
        raise WebhookSignatureError(f"timestamp outside the {scheme.replay_window_seconds} s replay window")
    given = [v for k, v in (p.split("=", 1) for p in value.split(",") if "=" in p) if k == "v1"]
    message = str(timestamp).encode() + b"." + body
    expected_hex = [_digest(s, message).hex() for s in secrets]
    if not any(hmac.compare_digest(g, e) for g in given for e in expected_hex):
        raise WebhookSignatureError("signature does not match the body")
