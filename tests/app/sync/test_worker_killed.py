"""A worker process killed with SIGKILL in the middle of a delivery loses nothing: its lease runs out,
another worker process delivers the batch, and the destination ends in the true state."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from app.database.engine import Database
from app.database.scope import DbScope
from app.delivery.models import QueuedDelivery
from app.settings import Settings
from tests.app.sync.conftest import Shop, push, wire

LEASE_SECONDS = 2


def worker_env(settings: Settings) -> dict[str, str]:
    keys = ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in settings.encryption_keys)
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "SECRET_KEY": settings.secret_key,
        "ENCRYPTION_KEYS": keys,
        "DATA_DIR": str(settings.data_dir),
        "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
    }


@contextmanager
def worker_process(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env=worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


async def until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


class TestKilledWorker:
    async def test_sigkill_mid_batch_loses_nothing(
        self, client: AsyncTestClient[Any], key: str, shop: Shop, settings: Settings, db: Database
    ) -> None:
        await wire(client, key, shop)
        truth = {f"SKU-00{n}": n - 1 for n in range(1, 8)}  # all at or below the threshold: urgent
        await shop.fault(delay=3.0, count=1)  # the first write hangs, so the worker dies inside it

        async def write_started() -> bool:
            log = (await shop.control.get("/_sandbox/requests")).json()
            return any(entry["path"] == "/stock/batch" for entry in log)

        async def queued() -> int:
            async with db.transaction(DbScope.system()) as session:
                return int(await session.scalar(select(func.count()).select_from(QueuedDelivery)) or 0)

        with worker_process(settings) as first:
            await push(
                client, key, [{"sku": sku, "location": "WH1", "on_hand": n} for sku, n in truth.items()]
            )
            await until(write_started, 30, "the first worker to start writing")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert await queued() == len(truth)  # nothing was settled by the dead worker

        with worker_process(settings):

            async def delivered() -> bool:
                return await queued() == 0

            await until(delivered, 60, "the second worker to deliver after the lease ran out")
        assert {sku: shop.on_hand(sku) for sku in truth} == truth
