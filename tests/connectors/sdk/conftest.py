"""Sandboxes on loopback and recording stand-ins for the clock and sleep the SDK is given."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.sandboxes import oauth, rest
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def api() -> AsyncIterator[str]:
    """The REST sandbox behind an API key (``sandbox-key``)."""
    async with serve(rest.create_app()) as url:
        yield url


@pytest.fixture
async def provider() -> AsyncIterator[str]:
    """The OAuth2 provider sandbox."""
    async with serve(oauth.create_app()) as url:
        yield url


@pytest.fixture
async def oauth_api() -> AsyncIterator[str]:
    """The REST sandbox accepting the provider's bearer tokens."""
    async with serve(rest.create_app(auth="oauth2")) as url:
        yield url
