"""The circuit breaker in front of each destination connection, its state shared by all workers in Redis.

Closed: requests go, and consecutive failures are counted. After ``threshold`` of them it opens for
``open_seconds``; once that has passed, one caller across all workers is let through as the probe
(a ``SET NX PX`` lease) while everyone else is still told to wait. The probe's success closes the
breaker; its failure reopens it for twice as long, up to ``max_open_seconds``. Time is the Redis
server's, so workers on hosts with skewed clocks agree on when the breaker reopens.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

KEY_PREFIX = "shelfsync:breaker:"

# Every script: KEYS[1] state hash {failures, open_until_ms, period_ms}, KEYS[2] probe lease.
# A hash without open_until_ms is closed; one with it is open until then, and half-open after.
# Times are whole milliseconds of the Redis server's clock, written with %.0f because tostring()
# keeps only 14 significant digits. The hash outlives its open period by max_open_ms so that an idle
# breaker does not hold memory forever (losing it only closes the breaker).

_NOW_MS = """
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

# ARGV probe lease ms. Returns {state, wait ms}: 0 closed, 1 open, 2 half-open (the caller is the probe).
_ALLOW_SCRIPT = (
    _NOW_MS
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until_ms'))
if open_until == nil then
  return {0, 0}
end
if now_ms < open_until then
  return {1, open_until - now_ms}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', tonumber(ARGV[1])) then
  return {2, 0}
end
local lease = redis.call('PTTL', KEYS[2])
if lease < 0 then
  lease = 0
end
return {1, lease}
"""
)

# ARGV threshold, base open ms, max open ms. Returns the consecutive failure count.
_FAILURE_SCRIPT = (
    _NOW_MS
    + """
local threshold = tonumber(ARGV[1])
local base_ms = tonumber(ARGV[2])
local max_ms = tonumber(ARGV[3])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until_ms'))
local period = nil
if open_until == nil then
  if failures >= threshold then
    period = base_ms
  end
elseif now_ms >= open_until then
  -- The open period is over, so this is the probe's answer: stay open, for twice as long.
  local previous = tonumber(redis.call('HGET', KEYS[1], 'period_ms')) or base_ms
  period = math.min(previous * 2, max_ms)
  redis.call('DEL', KEYS[2])
end
-- Otherwise it is open and this failure is a request that left before it opened: only counted.
if period ~= nil then
  open_until = now_ms + period
  redis.call('HSET', KEYS[1], 'open_until_ms', string.format('%.0f', open_until),
    'period_ms', string.format('%.0f', period))
end
local remaining = 0
if open_until ~= nil and open_until > now_ms then
  remaining = open_until - now_ms
end
redis.call('PEXPIRE', KEYS[1], remaining + max_ms)
return failures
"""
)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_STATES = {0: BreakerState.CLOSED, 1: BreakerState.OPEN, 2: BreakerState.HALF_OPEN}


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request to the destination may go now.

    ``half_open`` means this caller is the one probe and must report its outcome with
    ``record_success`` or ``record_failure``. ``retry_after`` is the seconds until a probe may go
    (zero unless ``open``).
    """

    state: BreakerState
    retry_after: float = 0.0

    @property
    def is_allowed(self) -> bool:
        return self.state is not BreakerState.OPEN


class CircuitBreaker:
    """Circuit breakers for destination connections, one per ``key`` (the connection's id).

    ``probe_seconds`` is how long the probe's lease lasts: a probe that never reports (its worker
    died) lets the next caller probe after that long.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        threshold: int = 5,
        open_seconds: float = 30.0,
        max_open_seconds: float = 600.0,
        probe_seconds: float = 30.0,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"a breaker's threshold must be at least 1, not {threshold}")
        if not open_seconds > 0:
            raise ValueError(f"a breaker's open period must be positive, not {open_seconds}")
        if max_open_seconds < open_seconds:
            raise ValueError(f"a breaker's longest open period must be at least {open_seconds}")
        if not probe_seconds > 0:
            raise ValueError(f"a probe's lease must be positive, not {probe_seconds}")
        self._redis = redis
        self._threshold = threshold
        self._open_ms = math.ceil(open_seconds * 1000)
        self._max_open_ms = math.ceil(max_open_seconds * 1000)
        self._probe_ms = math.ceil(probe_seconds * 1000)
        self._allow = redis.register_script(_ALLOW_SCRIPT)
        self._failure = redis.register_script(_FAILURE_SCRIPT)

    async def allow(self, key: str) -> Decision:
        """Whether a request to ``key`` may go: closed, half-open (as the probe) or open (wait)."""
        reply: list[Any] = await self._allow(keys=self._keys(key), args=[self._probe_ms])
        state, wait_ms = (int(value) for value in reply)
        return Decision(_STATES[state], wait_ms / 1000 if state == 1 else 0.0)

    async def record_success(self, key: str) -> None:
        """The destination answered: close the breaker and forget failures and the doubled period."""
        await self._redis.delete(*self._keys(key))

    async def record_failure(self, key: str) -> int:
        """The destination failed: count it, open at the threshold, reopen for longer after a probe.

        Returns the number of consecutive failures so far.
        """
        failures = await self._failure(
            keys=self._keys(key), args=[self._threshold, self._open_ms, self._max_open_ms]
        )
        return int(failures)

    def _keys(self, key: str) -> list[str]:
        state_key = f"{KEY_PREFIX}{key}"
        return [state_key, f"{state_key}:probe"]
