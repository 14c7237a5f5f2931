"""The inbound webhook template: systems push orders, stock or prices to ``/hooks/{connection_id}``.

``accept`` verifies the HMAC signature (current or previous secret, so secrets can rotate) and replay
window, then takes the records from the JSON body at ``record_path``. There is nothing to poll: ``read``
refuses, saying that this template is push only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from connectors.sdk.auth import AuthKind
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import PermanentError
from connectors.sdk.results import ConnectionCheck, ReadPage
from connectors.sdk.template import ConnectorTemplate
from connectors.sdk.webhooks import DEFAULT_REPLAY_WINDOW_SECONDS, WebhookScheme, verify

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["secret"],
    "properties": {
        "scheme": {
            "enum": ["timestamped", "body"],
            "default": "timestamped",
            "description": (
                "timestamped: 't=<unix>,v1=<hex HMAC of \"t.body\">'; body: base64 HMAC of the body."
            ),
        },
        "header": {"type": "string", "minLength": 1, "default": "X-Shelfsync-Signature"},
        "replay_window_seconds": {"type": "integer", "minimum": 1, "default": DEFAULT_REPLAY_WINDOW_SECONDS},
        "secret": {"type": "string", "minLength": 16, "writeOnly": True},
        "previous_secret": {
            "type": "string",
            "minLength": 16,
            "writeOnly": True,
            "description": "Still accepted while senders move to the new secret.",
        },
        "record_path": {
            "type": "string",
            "default": "events",
            "description": (
                "Dotted path to the list of records in the body; empty for a body that is one record."
            ),
        },
    },
}


class WebhookPayloadError(PermanentError):
    """A signed body that holds no records where the connection says they are."""


def extract_records(body: bytes, record_path: str) -> list[dict[str, Any]]:
    """The records at ``record_path`` (dotted) in the JSON ``body``; a single object counts as one."""
    try:
        document: Any = json.loads(body)
    except ValueError as error:
        raise WebhookPayloadError(f"body is not valid JSON: {error}") from None
    found = document
    walked = []
    for part in [p for p in record_path.split(".") if p]:
        walked.append(part)
        if not isinstance(found, dict) or part not in found:
            raise WebhookPayloadError(f"body has no {'.'.join(walked)!r} (record_path {record_path!r})")
        found = found[part]
    records = found if isinstance(found, list) else [found]
    where = record_path or "the body"
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise WebhookPayloadError(f"{where}[{index}] is not an object")
    return records


class WebhookTemplate(ConnectorTemplate):
    key = "webhook"
    name = "Inbound webhook"
    kind = Kind.WEBHOOK
    reads = frozenset({Domain.ORDERS, Domain.INVENTORY, Domain.PRICES})
    config_schema = CONFIG_SCHEMA
    auth: ClassVar[tuple[AuthKind, ...]] = ("none",)

    @property
    def scheme(self) -> WebhookScheme:
        s = self.settings
        return WebhookScheme(
            header=s["header"], format=s["scheme"], replay_window_seconds=s["replay_window_seconds"]
        )

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.settings.get("secret"), self.settings.get("previous_secret")) if s]

    def accept(self, headers: Mapping[str, str], body: bytes, now: float) -> list[dict[str, Any]]:
        """Verify a delivery and return its records.

        Raises ``WebhookSignatureError`` (unsigned, wrong secret, tampered, outside the replay window)
        or ``WebhookPayloadError`` (not JSON, nothing at ``record_path``); both messages are safe to
        return to the sender.
        """
        verify(self.scheme, self.secrets, headers, body, now)
        return extract_records(body, self.settings["record_path"])

    async def test_connection(self) -> ConnectionCheck:
        # Configuration is all there is to check: the schema already requires the secret and scheme.
        if not self.secrets:
            return ConnectionCheck(ok=False, detail="no signing secret configured")
        if self.settings["scheme"] not in ("timestamped", "body"):
            return ConnectionCheck(ok=False, detail=f"unknown signature scheme {self.settings['scheme']!r}")
        s = self.settings
        path = s["record_path"] or "the whole body"
        detail = f"ready: {s['scheme']} signatures in {s['header']}, records at {path}"
        return ConnectionCheck(ok=True, detail=detail)

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        raise PermanentError(
            f"{self.name} is push only: senders deliver {domain.value} to /hooks/<connection id>; "
            "there is nothing to read"
        )
        yield ReadPage(records=[])  # pragma: no cover - makes this an async generator like other reads
