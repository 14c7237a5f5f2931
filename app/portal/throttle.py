"""Login throttling in Redis, per account and per client address, shared by every web process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class LoginThrottle:
    """Fixed windows: after ``account_limit`` failures for one e-mail, or ``ip_limit`` from one
    address, further attempts are refused until the window ends."""

    redis: Redis
    account_limit: int = 5
    ip_limit: int = 20
    window_seconds: int = 900

    @staticmethod
    def _account_key(email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"shelfsync:login-fail:account:{digest}"

    @staticmethod
    def _ip_key(ip: str) -> str:
        return f"shelfsync:login-fail:ip:{ip}"

    async def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        account_key, ip_key = self._account_key(email), self._ip_key(ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(account_key)
            pipe.ttl(account_key)
            pipe.get(ip_key)
            pipe.ttl(ip_key)
            account_count, account_ttl, ip_count, ip_ttl = await pipe.execute()
        waits = []
        if account_count is not None and int(account_count) >= self.account_limit:
            waits.append(max(int(account_ttl), 1))
        if ip_count is not None and int(ip_count) >= self.ip_limit:
            waits.append(max(int(ip_ttl), 1))
        return max(waits) if waits else None

    async def record_failure(self, email: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._account_key(email), self._ip_key(ip)):
                # SET NX starts the window once; INCR keeps its expiry (works on Redis 6 and 7).
                pipe.set(key, 0, ex=self.window_seconds, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def record_success(self, email: str) -> None:
        await self.redis.delete(self._account_key(email))
