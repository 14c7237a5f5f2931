"""Redis wiring: one URL gives the asyncio client (sessions, throttles, locks) and arq's settings."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from arq.connections import RedisSettings
from redis.asyncio import Redis


def redis_client(url: str) -> Redis:
    """An asyncio Redis client with short timeouts: a down Redis fails fast instead of hanging."""
    client: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
    return client


def arq_redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for ``redis://``, ``rediss://`` or ``unix://`` URLs."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = parse_qs(parts.query)
        return RedisSettings(
            unix_socket_path=parts.path,
            database=int(query.get("db", ["0"])[0]),
            conn_timeout=2,
            conn_retries=0,
        )
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 0
    return settings
