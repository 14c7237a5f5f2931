"""One token bucket in Redis, shared by every process on every host: a connection's call budget (the
delivery rate limiter) and an API key's request budget (the API rate limit) both draw from it.

One Lua script refills the bucket by the time elapsed on the Redis server's clock (so hosts whose clocks
disagree still agree on the budget) and either takes the tokens or says how long to wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

# A bucket left idle expires this long after it would have been full again: a missing key means a full
# bucket, so expiry changes nothing but the memory held.
IDLE_MARGIN_MS = 1000

# KEYS[1] bucket hash {tokens, at_us}; ARGV rate/s, burst, cost, ttl ms. Returns "<wait> <tokens>": the
# seconds to wait ("0" when the tokens were taken) and the tokens left, as a string, since Lua numbers
# become integers on the way out. The timestamp is whole microseconds (below 2^53, so exact in a Lua
# double) formatted with %.0f because tostring() keeps only 14 significant digits. Only Redis 6.2
# commands are used.
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ttl_ms = tonumber(ARGV[4])
local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at_us')
local tokens = tonumber(state[1])
local at_us = tonumber(state[2])
if tokens == nil or at_us == nil then
  tokens = burst
  at_us = now_us
end
local elapsed = (now_us - at_us) / 1000000
if elapsed < 0 then
  elapsed = 0
end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at_us', string.format('%.0f', now_us))
redis.call('PEXPIRE', KEYS[1], ttl_ms)
return string.format('%.17g %.17g', wait, tokens)
"""


@dataclass(frozen=True, slots=True)
class Taken:
    """What one attempt found: ``wait`` is 0 when the tokens were taken, else the seconds until enough
    are in the bucket; ``tokens`` is what is left in it."""

    wait: float
    tokens: float

    @property
    def is_allowed(self) -> bool:
        return self.wait <= 0


class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate`` per second, stored under ``redis_key``."""

    def __init__(self, redis: Redis, redis_key: str, rate: float, burst: float) -> None:
        if not rate > 0:
            raise ValueError(f"a rate limit needs a positive rate, not {rate}")
        if burst < 1:
            raise ValueError(f"a rate limit needs a burst of at least 1, not {burst}")
        self.redis_key, self.rate, self.burst = redis_key, rate, burst
        self._take: AsyncScript = redis.register_script(_TAKE_SCRIPT)
        self._ttl_ms = math.ceil(burst / rate * 1000) + IDLE_MARGIN_MS

    async def take(self, cost: float = 1.0) -> Taken:
        """Take ``cost`` tokens if there are enough (then ``wait`` is 0); otherwise take none."""
        if cost > self.burst:
            raise ValueError(f"a cost of {cost} exceeds the bucket's burst of {self.burst}")
        if cost < 0:
            raise ValueError(f"a cost cannot be negative, not {cost}")
        reply = await self._take(
            keys=[self.redis_key], args=[repr(float(self.rate)), self.burst, repr(float(cost)), self._ttl_ms]
        )
        wait, tokens = (reply.decode() if isinstance(reply, bytes) else reply).split()
        return Taken(float(wait), float(tokens))

    def seconds_until_full(self, tokens: float) -> float:
        return max(self.burst - tokens, 0.0) / self.rate
