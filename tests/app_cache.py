"""One built app per distinct settings for a whole test run (building one costs about half a second)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime

import pytest
from litestar import Litestar

from app.clock import FrozenClock
from app.factory import create_app
from app.settings import Settings


class ClockHand:
    """The clock a shared app reads: it shows the time of the running test's ``clock``."""

    def __init__(self) -> None:
        self.current: FrozenClock | None = None

    def now(self) -> datetime:
        assert self.current is not None, "the app was used outside a test"
        return self.current.now()


class AppCache:
    """Built apps, one per distinct settings, reused by every test of the run.

    Building the app (route and signature registration) costs about half a second; each test still
    starts and stops the app's lifespan (its own database pool) through its own client, and reads its
    own frozen clock through the shared :class:`ClockHand`."""

    def __init__(self) -> None:
        self.hand = ClockHand()
        self._apps: dict[Settings, Litestar] = {}

    def app(self, settings: Settings, clock: FrozenClock) -> Litestar:
        self.hand.current = clock
        if settings not in self._apps:
            self._apps[settings] = create_app(settings, clock=self.hand)
        return self._apps[settings]


def with_empty_file_root(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """``settings`` with ``file_root`` at the run's ``files`` folder, emptied now: the same settings for
    every test (one cached app), and no test sees another's files."""
    root = tmp_path_factory.getbasetemp() / "tenant-files"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    return replace(settings, file_root=root)
