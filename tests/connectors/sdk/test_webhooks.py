"""Webhook signatures: both wire formats, wrong secrets, tampering, the replay window and rotation."""

from __future__ import annotations

import pytest

from connectors.sdk.webhooks import WebhookScheme, WebhookSignatureError, sign, verify

BODY = b'{"event":"stock.changed","sku":"SKU-001"}'
NOW = 1_714_560_000
TIMESTAMPED = WebhookScheme()
BODY_ONLY = WebhookScheme(header="X-Shopify-Hmac-Sha256", format="body")


def headers(scheme: WebhookScheme, secret: str, body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    return {scheme.header: sign(scheme, secret, body, timestamp)}


class TestTimestamped:
    def test_valid(self) -> None:
        verify(TIMESTAMPED, ["s3cret"], headers(TIMESTAMPED, "s3cret"), BODY, now=NOW + 10)

    def test_header_name_is_case_insensitive(self) -> None:
        signed = {k.lower(): v for k, v in headers(TIMESTAMPED, "s3cret").items()}
        verify(TIMESTAMPED, ["s3cret"], signed, BODY, now=NOW)

    def test_wrong_secret(self) -> None:
        with pytest.raises(WebhookSignatureError, match="does not match"):
            verify(TIMESTAMPED, ["other"], headers(TIMESTAMPED, "s3cret"), BODY, now=NOW)

    def test_tampered_body(self) -> None:
        with pytest.raises(WebhookSignatureError, match="does not match"):
            verify(
                TIMESTAMPED, ["s3cret"], headers(TIMESTAMPED, "s3cret"), BODY.replace(b"001", b"002"), now=NOW
            )

    def test_tampered_timestamp(self) -> None:
        value = headers(TIMESTAMPED, "s3cret")[TIMESTAMPED.header].replace(f"t={NOW}", f"t={NOW + 1}")
        with pytest.raises(WebhookSignatureError, match="does not match"):
            verify(TIMESTAMPED, ["s3cret"], {TIMESTAMPED.header: value}, BODY, now=NOW)

    @pytest.mark.parametrize("offset", [301, -301, 3600])
    def test_outside_the_replay_window(self, offset: int) -> None:
        with pytest.raises(WebhookSignatureError, match="replay window"):
            verify(TIMESTAMPED, ["s3cret"], headers(TIMESTAMPED, "s3cret"), BODY, now=NOW + offset)

    def test_edge_of_the_window_is_accepted(self) -> None:
        verify(TIMESTAMPED, ["s3cret"], headers(TIMESTAMPED, "s3cret"), BODY, now=NOW + 300)

    def test_rotated_secrets_both_verify(self) -> None:
        for secret in ("new", "old"):
            verify(TIMESTAMPED, ["new", "old"], headers(TIMESTAMPED, secret), BODY, now=NOW)
        with pytest.raises(WebhookSignatureError):
            verify(TIMESTAMPED, ["new"], headers(TIMESTAMPED, "old"), BODY, now=NOW)

    @pytest.mark.parametrize("value", ["", "v1=abc", "t=soon,v1=abc"])
    def test_malformed_header(self, value: str) -> None:
        with pytest.raises(WebhookSignatureError):
            verify(TIMESTAMPED, ["s3cret"], {TIMESTAMPED.header: value} if value else {}, BODY, now=NOW)


class TestBodyScheme:
    def test_valid_and_rotated(self) -> None:
        verify(BODY_ONLY, ["a"], headers(BODY_ONLY, "a"), BODY, now=0)
        verify(BODY_ONLY, ["b", "a"], headers(BODY_ONLY, "a"), BODY, now=0)

    def test_tampered_or_wrong_secret(self) -> None:
        with pytest.raises(WebhookSignatureError, match="does not match the body"):
            verify(BODY_ONLY, ["a"], headers(BODY_ONLY, "a"), BODY + b" ", now=0)
        with pytest.raises(WebhookSignatureError, match="does not match the body"):
            verify(BODY_ONLY, ["z"], headers(BODY_ONLY, "a"), BODY, now=0)

    def test_missing_header(self) -> None:
        with pytest.raises(WebhookSignatureError, match="missing X-Shopify-Hmac-Sha256"):
            verify(BODY_ONLY, ["a"], {}, BODY, now=0)
