"""The per-connection token bucket every worker on every host shares, kept in Redis.

One Lua script refills the bucket by the time elapsed on the Redis server's clock (so hosts whose
clocks disagree still agree on the budget) and either takes the tokens or says how long to wait.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from connectors.sdk.ratelimit import RateLimit

KEY_PREFIX = "shelfsync:rate:"

# A bucket left idle expires this long after it would have been full again: a missing key means a full
# bucket, so expiry changes nothing but the memory held.
IDLE_MARGIN_MS = 1000

# KEYS[1] bucket hash {tokens, at_us}; ARGV rate/s, burst, cost, ttl ms. Returns the seconds to wait
# ("0" when the tokens were taken) as a string, since Lua numbers become integers on the way out.
# The timestamp is whole microseconds (below 2^53, so exact in a Lua double) formatted with %.0f
# because tostring() keeps only 14 significant digits. Only Redis 6.2 commands are used.
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
return string.format('%.17g', wait)
"""


class RedisTokenBucket:
    """A ``RateLimiter`` for one connection whose budget all workers draw from.

    ``key`` names the bucket (the connection's id); the Redis key is ``shelfsync:rate:<key>``.
    """

    def __init__(
        self,
        redis: Redis,
        key: str,
        limit: RateLimit,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not limit.rate > 0:
            raise ValueError(f"a rate limit needs a positive rate, not {limit.rate}")
        if limit.burst < 1:
            raise ValueError(f"a rate limit needs a burst of at least 1, not {limit.burst}")
        self._limit = limit
        self._sleep = sleep
        self._take = redis.register_script(_TAKE_SCRIPT)
        self.redis_key = f"{KEY_PREFIX}{key}"
        self._ttl_ms = math.ceil(limit.burst / limit.rate * 1000) + IDLE_MARGIN_MS

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are in the shared bucket, then take them."""
        if cost > self._limit.burst:
            raise ValueError(f"a cost of {cost} exceeds the bucket's burst of {self._limit.burst}")
        if cost < 0:
            raise ValueError(f"a cost cannot be negative, not {cost}")
        while True:
            wait = await self._try_take(cost)
            if wait <= 0:
                return
            await self._sleep(wait)

    async def _try_take(self, cost: float) -> float:
        """Take the tokens if there are enough; otherwise the seconds until there will be."""
        reply = await self._take(
            keys=[self.redis_key],
            args=[repr(float(self._limit.rate)), self._limit.burst, repr(float(cost)), self._ttl_ms],
        )
        return float(reply.decode() if isinstance(reply, bytes) else reply)
