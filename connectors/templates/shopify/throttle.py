"""Shopify's cost-based throttling, seen from the client: a leaky bucket of query-cost points.

Every Admin GraphQL answer reports ``extensions.cost``: the query's ``requestedQueryCost`` and
``actualQueryCost`` and the bucket's ``throttleStatus`` (``maximumAvailable``, ``currentlyAvailable``,
``restoreRate`` points per second). Before a call whose cost (last seen for the same document) is more
than the bucket holds now, we wait ``(cost − available) / restoreRate`` seconds instead of being refused;
a ``THROTTLED`` error that still comes back is retried after the wait its own cost report gives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_THROTTLED_WAIT_SECONDS = 1.0
"""When a THROTTLED answer carries no cost report (never seen from Shopify, but possible)."""


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_cost(cls, cost: Mapping[str, Any]) -> ThrottleStatus | None:
        status = cost.get("throttleStatus")
        if not isinstance(status, Mapping):
            return None
        try:
            return cls(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def cost_report(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``extensions.cost`` object of a GraphQL answer, or an empty mapping."""
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    return cost if isinstance(cost, Mapping) else {}


class CostThrottle:
    """What the client knows of its bucket; ``clock`` is seconds (the context's clock, so tests move it)."""

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._status: ThrottleStatus | None = None
        self._observed_at = 0.0
        self._costs: dict[str, float] = {}

    def available_now(self) -> float | None:
        """Points the bucket holds now: last report plus what has leaked back since; None before any."""
        if self._status is None:
            return None
        refilled = (self._clock() - self._observed_at) * self._status.restore_rate
        return min(self._status.maximum_available, self._status.currently_available + refilled)

    def wait_for(self, cost: float) -> float:
        """Seconds to wait before spending ``cost`` points; 0 when the bucket holds enough."""
        available = self.available_now()
        if self._status is None or available is None or cost <= available:
            return 0.0
        return (cost - available) / self._status.restore_rate

    async def before(self, document: str) -> None:
        """Wait, if needed, for the points ``document`` cost last time."""
        cost = self._costs.get(document)
        if cost is None:
            return
        wait = self.wait_for(cost)
        if wait > 0:
            await self._sleep(wait)

    def record(self, document: str, body: Mapping[str, Any]) -> None:
        """Remember the bucket's state and the document's requested cost from an answer."""
        cost = cost_report(body)
        status = ThrottleStatus.from_cost(cost)
        if status is not None:
            self._status = status
            self._observed_at = self._clock()
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self._costs[document] = float(requested)

    def throttled_wait(self, body: Mapping[str, Any]) -> float:
        """How long to wait after a THROTTLED answer (whose report was just ``record``-ed)."""
        requested = cost_report(body).get("requestedQueryCost")
        if not isinstance(requested, int | float) or self._status is None:
            return DEFAULT_THROTTLED_WAIT_SECONDS
        return max(self.wait_for(float(requested)), 0.0)


def is_throttled(errors: Any) -> bool:
    """Whether a GraphQL ``errors`` list is Shopify's THROTTLED refusal."""
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, Mapping)
        and isinstance(e.get("extensions"), Mapping)
        and e["extensions"].get("code") == "THROTTLED"
        for e in errors
    )
