"""Fixtures for promotion deployment tests: the app with tenant file folders under the test's temporary
folder, two keys of one retailer (proposer and approver), and the worker's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from redis.asyncio import Redis

from app.clock import FrozenClock
from app.connections.service import tenant_folder
from app.crypto import SecretBox
from app.database.engine import Database
from app.promotions.deploy import Runtime
from app.settings import Settings
from tests import factories
from tests.app.promotions.estate import SCOPES, Estate, build_estate, sandboxes
from tests.app_cache import AppCache, with_empty_file_root
from tests.factories import World


@pytest.fixture
def files_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The settings with a tenant file folder of the run's, emptied before each test (the same settings
    each time, so the built app is reused)."""
    return with_empty_file_root(settings, tmp_path_factory)


@pytest.fixture
def app(apps: AppCache, files_settings: Settings, clock: FrozenClock) -> Litestar:
    return apps.app(files_settings, clock)


@pytest.fixture
def runtime(files_settings: Settings, db: Database, redis: Redis) -> Runtime:
    return Runtime(files_settings, db, redis, SecretBox.from_settings(files_settings))


@pytest.fixture
async def keys(world: World, db: Database) -> tuple[str, str]:
    return (
        await factories.make_api_key(db, world.tenant_a1, SCOPES, name="merchandiser"),
        await factories.make_api_key(db, world.tenant_a1, SCOPES, name="manager"),
    )


@pytest.fixture
async def small_estate(
    client: object, keys: tuple[str, str], files_settings: Settings, world: World
) -> AsyncIterator[Estate]:
    """30 SKUs, 5 stores, a shop and a marketplace."""
    folder = tenant_folder(files_settings, world.tenant_a1.id) / "pos"
    async with sandboxes() as boxes:
        yield await build_estate(client, *keys, boxes, folder, skus=30, stores=5)  # type: ignore[arg-type]
