"""The real Vendure e-commerce server as a local peer: pinned npm install, then a server on a fresh
sql.js database per run.

``python -m connectors.peers.vendure install`` installs (or keeps) ``.ci/peers/vendure/node_modules``;
``python -m connectors.peers.vendure serve --port 3000`` runs a server until Ctrl-C.
Tests use ``running_vendure()``, an async context manager that yields a ``VendurePeer``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

PEER_ROOT = Path(__file__).resolve().parents[2] / ".ci" / "peers" / "vendure"
SUPERADMIN_USERNAME = "superadmin"
SUPERADMIN_PASSWORD = "shelfsync-vendure-admin"  # noqa: S105 - a throwaway local test peer
INSTALL_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 10
INSTALLED_MARKER = ".shelfsync-installed"


class VendureUnavailableError(RuntimeError):
    """Node.js/npm are missing or the install failed; the message says what to do."""


@dataclass(frozen=True, slots=True)
class VendurePeer:
    base_url: str
    username: str
    password: str
    admin_api_path: str = "admin-api"
    shop_api_path: str = "shop-api"

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/{self.admin_api_path}"

    @property
    def shop_url(self) -> str:
        return f"{self.base_url}/{self.shop_api_path}"


def _lock_digest() -> str:
    return hashlib.sha256((PEER_ROOT / "package-lock.json").read_bytes()).hexdigest()


def is_installed() -> bool:
    """node_modules exists and was installed from the current package-lock.json."""
    marker = PEER_ROOT / "node_modules" / INSTALLED_MARKER
    return marker.exists() and marker.read_text().strip() == _lock_digest()


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """One ``npm ci`` at a time across processes (CI's background install, pytest); the others wait."""
    with (PEER_ROOT / ".install.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise VendureUnavailableError(
            f"{name} is not on PATH: the Vendure peer needs Node.js 20+ and npm "
            "(e.g. `apt-get install nodejs npm`)"
        )
    return path


def ensure_installed() -> Path:
    """Install the pinned packages with ``npm ci`` unless already installed (≈ 35 s the first time)."""
    if is_installed():
        return PEER_ROOT
    npm = _tool("npm")
    with _install_lock():
        if is_installed():
            return PEER_ROOT
        result = subprocess.run(  # noqa: S603 - fixed command line
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PEER_ROOT,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stderr or result.stdout)[-2000:]
            raise VendureUnavailableError(f"npm ci in {PEER_ROOT} failed ({result.returncode}): {output}")
        (PEER_ROOT / "node_modules" / INSTALLED_MARKER).write_text(_lock_digest())
    return PEER_ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _start(root: Path, port: int, directory: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VENDURE_SUPERADMIN_USERNAME": SUPERADMIN_USERNAME,
        "VENDURE_SUPERADMIN_PASSWORD": SUPERADMIN_PASSWORD,
    }
    # A session of its own, so stopping ends node and anything it spawned, and nothing else.
    return subprocess.Popen(  # noqa: S603 - fixed command line
        [_tool("node"), "server.js", "--port", str(port), "--db", str(directory / "vendure.sqlite")],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _wait_until_answers(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise VendureUnavailableError(
                    f"Vendure exited with {process.returncode} while starting: {_tail(log)}"
                )
            with contextlib.suppress(httpx.TransportError):
                response = await client.post(url, json={"query": "{ __typename }"})
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise VendureUnavailableError(
        f"Vendure did not answer at {url} within {START_TIMEOUT_SECONDS} s: {_tail(log)}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group (node may have children)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.asynccontextmanager
async def running_vendure(port: int | None = None) -> AsyncIterator[VendurePeer]:
    """A Vendure server on ``port`` (a free one by default) with an empty database, stopped after."""
    root = await asyncio.to_thread(ensure_installed)
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="vendure-") as work:
        directory = Path(work)
        log_path = directory / "vendure.log"
        with log_path.open("wb") as log:
            process = _start(root, port, directory, log)
            try:
                await _wait_until_answers(f"http://127.0.0.1:{port}/admin-api", process, log_path)
                yield VendurePeer(f"http://127.0.0.1:{port}", SUPERADMIN_USERNAME, SUPERADMIN_PASSWORD)
            finally:
                _stop(process)


async def _serve(port: int) -> None:
    started = time.perf_counter()
    async with running_vendure(port) as peer:
        print(f"Vendure answers at {peer.admin_url} after {time.perf_counter() - started:.1f} s")
        print(f"superadmin: {peer.username} / {peer.password}   (Ctrl-C stops it)", flush=True)
        stop = asyncio.Event()
        # SIGTERM too, and SIGINT even where a background shell job ignores it, so node always ends.
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors.peers.vendure", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="npm ci the pinned Vendure unless already installed")
    serve = commands.add_parser("serve", help="run Vendure on a fresh database until Ctrl-C")
    serve.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    if args.command == "install":
        started = time.perf_counter()
        ensure_installed()
        print(f"Vendure installed in {PEER_ROOT} ({time.perf_counter() - started:.1f} s)")
    else:
        asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
