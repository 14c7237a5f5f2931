"""Test wiring: real PostgreSQL and Redis (the machine's, or embedded ones when the URLs are unset).

Each run gets its own database, migrated to head; every test starts from empty tables and an empty
Redis database.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.clock import FrozenClock
from app.database.engine import Database, app_engine, async_url, owner_engine
from app.database.migrations import upgrade
from app.database.models import metadata
from app.embedded import EmbeddedServices, ensure_services
from app.settings import Settings, load_settings
from tests import factories
from tests.app_cache import AppCache

TEST_REDIS_DB = 15


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _with_redis_db(url: str, db: int) -> str:
    if url.startswith("unix://"):
        base = url.split("?", 1)[0]
        return f"{base}?db={db}"
    return re.sub(r"(/\d+)?$", f"/{db}", url, count=1)


async def _drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(async_url(admin_url).replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _recreate_database(admin_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(async_url(admin_url).replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def services() -> Iterator[tuple[Settings, EmbeddedServices]]:
    """The machine's services, or embedded ones. Parallel workers (pytest-xdist) start or join the
    embedded servers one at a time: the first starts them, the others find them running."""
    env = dict(os.environ)
    env.setdefault("DATA_DIR", ".shelfsync-test")
    env["COOKIE_SECURE"] = "true"
    settings = load_settings(env)
    with services_lock(settings):
        base, embedded = ensure_services(settings)
    yield base, embedded
    embedded.stop()


@contextmanager
def services_lock(settings: Settings) -> Iterator[None]:
    """Held by one test worker at a time: starting or joining embedded servers, and migrating (the
    first migration of a cluster creates its roles, which every database of it shares)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / ".services.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def scratch_database(base: Settings, name: str) -> Settings:
    """A new, empty database on the same server, as settings."""
    assert base.database_url
    asyncio.run(_recreate_database(base.database_url, name))
    return replace(base, database_url=_with_database(base.database_url, name))


@pytest.fixture
def scratch_db(services: tuple[Settings, EmbeddedServices]) -> Iterator[Callable[[str], Settings]]:
    """Make empty databases on the test server (``scratch("cli")``); they are dropped after the test."""
    base, _ = services
    made: list[str] = []

    def make(label: str) -> Settings:
        name = f"shelfsync_test_{label}_{os.getpid()}"
        made.append(name)
        return scratch_database(base, name)

    yield make
    assert base.database_url
    for name in made:
        asyncio.run(_drop_database(base.database_url, name))


REDIS_OWNER_KEY = "shelfsync:test-run-owner"
"""Held in a test Redis database by the run using it: concurrent runs (CI beside a developer's run)
each get a database of their own instead of flushing each other's."""


def _claim_redis_db(url: str) -> int:
    """The first of databases 8–15 no other live test run holds (the claim expires after 2 hours)."""
    import redis as sync_redis

    owner = f"{os.getpid()}"
    for number in range(TEST_REDIS_DB, TEST_REDIS_DB - 8, -1):
        client = sync_redis.Redis.from_url(_with_redis_db(url, number))
        try:
            if client.set(REDIS_OWNER_KEY, owner, nx=True, ex=7200):
                return number
        finally:
            client.close()
    return TEST_REDIS_DB - os.getpid() % 8  # all taken: share one, as before


def _release_redis_db(url: str) -> None:
    import redis as sync_redis

    client = sync_redis.Redis.from_url(url)
    try:
        if client.get(REDIS_OWNER_KEY) == f"{os.getpid()}".encode():
            client.delete(REDIS_OWNER_KEY)
    finally:
        client.close()


@pytest.fixture(scope="session")
def settings(services: tuple[Settings, EmbeddedServices]) -> Iterator[Settings]:
    """A database of this test process's own (two runs on one machine never meet), and a Redis
    database no other live run holds (``_claim_redis_db``)."""
    base, _ = services
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"shelfsync_test_{worker}_{os.getpid()}"
    migrated = scratch_database(base, name)
    assert migrated.redis_url
    redis_db = _claim_redis_db(migrated.redis_url)
    migrated = replace(migrated, redis_url=_with_redis_db(migrated.redis_url, redis_db))
    with services_lock(migrated):
        upgrade(migrated)
    yield migrated
    _release_redis_db(migrated.redis_url or "")
    assert base.database_url
    asyncio.run(_drop_database(base.database_url, name))


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database.from_engine(app_engine(settings, pool_size=5))
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def owner(settings: Settings) -> AsyncIterator[Any]:
    engine = owner_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis_url
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def clean(owner: Any, redis: Redis) -> None:
    """Empty every table and the test Redis database before each test."""
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    async with owner.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await redis.flushdb()
    await redis.set(REDIS_OWNER_KEY, f"{os.getpid()}", ex=7200)  # the flush took the claim too


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC))


@pytest.fixture(scope="session")
def apps() -> AppCache:
    return AppCache()


@pytest.fixture
def app(apps: AppCache, settings: Settings, clock: FrozenClock) -> Litestar:
    return apps.app(settings, clock)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="https://localhost") as test_client:
        yield test_client


@pytest.fixture
async def world(db: Database) -> factories.World:
    """Two partners; partner A has tenants A1 and A2, partner B has tenant B1; a user per role."""
    return await factories.build_world(db)
