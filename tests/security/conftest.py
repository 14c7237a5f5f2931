"""Security tests talk to the portal as a browser on partner alpha's host, like tests/app/portal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient


@pytest.fixture
async def alpha(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="https://alpha.localhost") as client:
        yield client
