"""The REST sandbox served on loopback, and a context factory whose sleeps are recorded, not slept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.sandboxes.rest import create_app
from connectors.sdk.context import ConnectorContext
from connectors.sdk.network import NetworkPolicy
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve

EXAMPLE_MANIFEST = Path(__file__).parents[3] / "connectors/templates/rest/manifests/example_erp.yaml"


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def sandbox() -> AsyncIterator[str]:
    async with serve(create_app()) as url:
        yield url


@pytest.fixture
def make_context(sandbox: str, sleeps: RecordingSleep) -> Callable[..., ConnectorContext]:
    def make(config: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> ConnectorContext:
        return ConnectorContext(
            config={"base_url": sandbox, **(config or {})},
            secrets={"api_key": "sandbox-key"} if secrets is None else secrets,
            network=NetworkPolicy.permissive(),
            sleep=sleeps,
            max_attempts=3,
        )

    return make
