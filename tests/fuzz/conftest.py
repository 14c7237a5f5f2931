"""Fuzzing wiring: one app whose lifespan schemathesis runs on its own event loop thread."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from litestar import Litestar
from schemathesis.python import asgi

from app.clock import FrozenClock
from app.factory import create_app
from app.settings import Settings


@pytest.fixture(scope="module")
def fuzzed_app(settings: Settings) -> Iterator[Litestar]:
    """Started on the first request schemathesis sends; its pools close when the module is done."""
    yield create_app(settings, clock=FrozenClock(datetime(2026, 11, 25, 12, tzinfo=UTC)))
    asgi.shutdown_lifespans()
