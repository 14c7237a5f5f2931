"""Stand-ins for time in connector tests: sleeps return at once and are recorded, so retry and
rate-limit tests are fast and can check exactly how long a connector chose to wait."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RecordingSleep:
    """A ``sleep`` that returns at once and remembers each delay it was asked for."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class RecordingClock:
    """Sleeps return at once but are recorded, and move this clock (shared with a sandbox's rate
    limiter) forward by as much."""

    sleeps: list[float] = field(default_factory=list)
    offset: float = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds
