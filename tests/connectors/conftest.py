"""Connector tests are pure code against sandboxes and local peers: no Shelfsync database or Redis."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean() -> None:
    """Overrides the root fixture: these tests keep no rows and no Redis keys, so nothing is emptied."""
