"""The inbound webhook template: signatures, rotation, replay window, record extraction, push only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.sdk.errors import ConfigError, PermanentError
from connectors.sdk.template import check_connection
from connectors.sdk.webhooks import WebhookScheme, WebhookSignatureError, sign
from connectors.templates.webhook.template import WebhookPayloadError, WebhookTemplate

SECRET = "whsec-current-0123456789"
OLD_SECRET = "whsec-previous-0123456789"
NOW = 1_750_000_000
HEADER = "X-Shelfsync-Signature"


def template(**config: Any) -> WebhookTemplate:
    secrets: dict[str, Any] = {k: config.pop(k) for k in ("secret", "previous_secret") if k in config}
    return WebhookTemplate(ConnectorContext(config=config, secrets={"secret": SECRET, **secrets}))


def signed(
    body: bytes, *, secret: str = SECRET, at: int = NOW, scheme: str = "timestamped"
) -> dict[str, str]:
    return {HEADER: sign(WebhookScheme(format=scheme), secret, body, at)}  # type: ignore[arg-type]


EVENTS = json.dumps({"events": [{"order_id": "A-1"}, {"order_id": "A-2"}]}).encode()


class TestAccept:
    def test_valid_signature_gives_records(self) -> None:
        records = template().accept(signed(EVENTS), EVENTS, NOW + 10)
        assert records == [{"order_id": "A-1"}, {"order_id": "A-2"}]

    def test_body_scheme_and_single_object(self) -> None:
        body = json.dumps({"sku": "A-1", "on_hand": 4}).encode()
        hook = template(scheme="body", record_path="")
        assert hook.accept(signed(body, scheme="body"), body, NOW) == [{"sku": "A-1", "on_hand": 4}]

    def test_nested_record_path(self) -> None:
        body = json.dumps({"data": {"prices": [{"sku": "A-1"}]}}).encode()
        assert template(record_path="data.prices").accept(signed(body), body, NOW) == [{"sku": "A-1"}]

    def test_rotated_secret_is_still_accepted(self) -> None:
        hook = template(previous_secret=OLD_SECRET)
        assert len(hook.accept(signed(EVENTS, secret=OLD_SECRET), EVENTS, NOW)) == 2
        assert len(hook.accept(signed(EVENTS), EVENTS, NOW)) == 2

    def test_header_name_is_configurable(self) -> None:
        headers = {"X-Partner-Hmac": signed(EVENTS)[HEADER]}
        assert len(template(header="X-Partner-Hmac").accept(headers, EVENTS, NOW)) == 2


class TestRefuse:
    def test_wrong_secret(self) -> None:
        with pytest.raises(WebhookSignatureError, match="does not match"):
            template().accept(signed(EVENTS, secret="someone-else-entirely"), EVENTS, NOW)

    def test_previous_secret_without_rotation_configured(self) -> None:
        with pytest.raises(WebhookSignatureError, match="does not match"):
            template().accept(signed(EVENTS, secret=OLD_SECRET), EVENTS, NOW)

    def test_tampered_body(self) -> None:
        tampered = EVENTS.replace(b"A-2", b"A-3")
        with pytest.raises(WebhookSignatureError, match="does not match"):
            template().accept(signed(EVENTS), tampered, NOW)

    def test_stale_timestamp(self) -> None:
        with pytest.raises(WebhookSignatureError, match="replay window"):
            template(replay_window_seconds=60).accept(signed(EVENTS), EVENTS, NOW + 61)

    def test_missing_header(self) -> None:
        with pytest.raises(WebhookSignatureError, match="missing X-Shelfsync-Signature"):
            template().accept({}, EVENTS, NOW)

    def test_malformed_json(self) -> None:
        body = b'{"events": [oops'
        with pytest.raises(WebhookPayloadError, match="not valid JSON"):
            template().accept(signed(body), body, NOW)

    def test_missing_record_path(self) -> None:
        body = json.dumps({"items": []}).encode()
        with pytest.raises(WebhookPayloadError, match="no 'events'"):
            template().accept(signed(body), body, NOW)

    def test_records_must_be_objects(self) -> None:
        body = json.dumps({"events": [{"ok": 1}, 7]}).encode()
        with pytest.raises(WebhookPayloadError, match=r"events\[1\] is not an object"):
            template().accept(signed(body), body, NOW)


class TestConnection:
    async def test_config_is_ready(self) -> None:
        check = await check_connection(template())
        assert check.ok
        assert "timestamped signatures in X-Shelfsync-Signature" in check.detail

    def test_secret_is_required(self) -> None:
        with pytest.raises(ConfigError, match="secret"):
            WebhookTemplate(ConnectorContext(config={}))

    def test_unknown_scheme_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="scheme"):
            template(scheme="md5")

    def test_secret_is_write_only(self) -> None:
        assert WebhookTemplate.config_schema["properties"]["secret"]["writeOnly"] is True
        assert WebhookTemplate.config_schema["properties"]["previous_secret"]["writeOnly"] is True


class TestRead:
    async def test_read_says_push_only(self) -> None:
        with pytest.raises(PermanentError, match="push only"):
            async for _ in template().read(Domain.ORDERS):
                pass
