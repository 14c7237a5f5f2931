"""Real ``shelfsync worker`` processes for fault-injection tests: started against the test database
and Redis (or a proxy in front of them), their output kept in a file to show when a test fails."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.settings import Settings
from tests.app.sync.test_worker_killed import worker_env


class WorkerProcess:
    """One ``python -m app.cli worker`` process; ``log`` holds what it wrote."""

    def __init__(self, settings: Settings, lease_seconds: int, env: dict[str, str] | None = None) -> None:
        self.log = Path(tempfile.mkstemp(prefix="shelfsync-worker-", suffix=".log")[1])
        env = {
            **worker_env(settings),
            "DELIVERY_LEASE_SECONDS": str(lease_seconds),
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def is_running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no settling, leases left as they are."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_worker(
    settings: Settings, *, lease_seconds: int = 2, env: dict[str, str] | None = None
) -> Iterator[WorkerProcess]:
    """A worker process for the length of the block, stopped (SIGTERM) afterwards unless already dead;
    ``env`` adds settings (``WORKER_MAX_JOBS``…)."""
    worker = WorkerProcess(settings, lease_seconds, env)
    try:
        yield worker
    finally:
        worker.stop()
        worker.log.unlink(missing_ok=True)


async def until(
    check: Callable[[], Awaitable[bool]],
    seconds: float,
    what: str,
    *,
    show: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``check`` every 50 ms until it holds; fail naming ``what`` (and ``show()``, say a worker's
    log) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}\n{show()}"
        await asyncio.sleep(0.05)
