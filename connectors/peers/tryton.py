"""The real Tryton ERP as a local peer: a seeded SQLite database built once and cached, and a server.

``python -m connectors.peers.tryton build`` builds (or reuses) the cached database;
``python -m connectors.peers.tryton serve --port 8000`` runs a server on a copy of it until Ctrl-C.
Tests use ``running_tryton()``, an async context manager that yields a ``TrytonPeer``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

MODULES = ("company", "currency", "party", "product", "stock", "sale")
DATABASE = "shelfsync"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "shelfsync-tryton-admin"  # noqa: S105 - a throwaway local test peer
COMPANY_NAME = "Shelfsync Demo Retail"
PEER_ROOT = Path(__file__).resolve().parents[2] / ".ci" / "peers" / "tryton"
BUILD_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class TrytonPeer:
    base_url: str
    database: str
    username: str
    password: str


def trytond_version() -> str:
    return version("trytond")


def cache_dir() -> Path:
    return PEER_ROOT / "cache" / trytond_version()


def cached_database() -> Path:
    return cache_dir() / f"{DATABASE}.sqlite"


def _script(name: str) -> str:
    # The venv's own scripts, whichever interpreter runs us (uv run, CI, a demo shell).
    return str(Path(sys.executable).parent / name)


def write_conf(directory: Path, port: int) -> Path:
    conf = directory / "trytond.conf"
    conf.write_text(
        "[database]\n"
        "uri = sqlite://\n"
        f"path = {directory}\n"
        "[web]\n"
        f"listen = 127.0.0.1:{port}\n"
        "[session]\n"
        # Tests log in with a wrong password on purpose; keep Tryton's brute-force delay out of the way.
        "max_attempt = 1000\n"
        "max_attempt_ip_network = 100000\n"
    )
    return conf


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One builder at a time across processes (pytest workers, CI steps); the others wait, then reuse."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build() -> Path:
    """The cached, initialised and seeded database file; built on first use (about 40 s)."""
    target = cached_database()
    if target.exists():
        return target
    with _build_lock():
        if target.exists():
            return target
        with tempfile.TemporaryDirectory(prefix="tryton-build-", dir=cache_dir()) as work:
            directory = Path(work)
            _initialise(directory)
            _seed(directory)
            _checkpoint(directory / f"{DATABASE}.sqlite")
            # Atomic publication: readers never see a half-built file.
            os.replace(directory / f"{DATABASE}.sqlite", target)
    return target


def _initialise(directory: Path) -> None:
    conf = write_conf(directory, free_port())
    (directory / f"{DATABASE}.sqlite").touch()
    passfile = directory / "password"
    passfile.write_text(ADMIN_PASSWORD)
    command = [
        _script("trytond-admin"), "-c", str(conf), "-d", DATABASE, "--all", "--activate-dependencies",
        "--email", "admin@example.com", "-u", *MODULES,
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 - fixed command line
        command,
        env={**os.environ, "TRYTONPASSFILE": str(passfile)},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"trytond-admin failed ({result.returncode}): {result.stderr[-2000:]}")


def _checkpoint(database: Path) -> None:
    """Fold Tryton's write-ahead log into the file so that the file alone is the whole database."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode = DELETE")


def _seed(directory: Path) -> None:
    """EUR, a company set on the admin user; the stock module already made warehouse ``WH``."""
    port = free_port()
    conf = write_conf(directory, port)
    with _server(conf, directory):
        url = f"http://127.0.0.1:{port}/{DATABASE}/rpc/"
        _wait_until_answers(url)
        with httpx.Client(timeout=60) as client:
            rpc = _SeedRpc(client, url)
            currency = rpc.call(
                "model.currency.currency.create",
                [{"name": "Euro", "code": "EUR", "symbol": "€", "digits": 2,
                  "rounding": {"__class__": "Decimal", "decimal": "0.01"}}],
                {},
            )[0]  # fmt: skip
            party = rpc.call("model.party.party.create", [{"name": COMPANY_NAME}], {})[0]
            company = rpc.call("model.company.company.create", [{"party": party, "currency": currency}], {})[
                0
            ]
            rpc.call(
                "model.res.user.write",
                [rpc.user_id],
                {"companies": [["add", [company]]], "company": company},
                {},
            )


class _SeedRpc:
    """Just enough JSON-RPC to seed; the connector's own client is what the tests exercise."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self._client, self._url = client, url
        self.user_id, session = self.call("common.db.login", ADMIN_LOGIN, {"password": ADMIN_PASSWORD})[:2]
        token = base64.b64encode(f"{ADMIN_LOGIN}:{self.user_id}:{session}".encode()).decode()
        self._client.headers["Authorization"] = f"Session {token}"

    def call(self, method: str, *params: Any) -> Any:
        answer = self._client.post(self._url, json={"id": 1, "method": method, "params": list(params)}).json()
        if answer.get("error"):
            raise RuntimeError(f"seeding Tryton: {method} failed: {answer['error']}")
        return answer["result"]


@contextlib.contextmanager
def _server(conf: Path, directory: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (directory / "trytond.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed command line
        [_script("trytond"), "-c", str(conf), "-d", DATABASE], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_answers(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"trytond exited with {process.returncode} before answering")
        try:
            httpx.post(url, json={"id": 0, "method": "common.server.version", "params": []}, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        return
    raise RuntimeError(f"trytond did not answer at {url} within {START_TIMEOUT_SECONDS} s")


@contextlib.asynccontextmanager
async def running_tryton(port: int | None = None) -> AsyncIterator[TrytonPeer]:
    """A Tryton server on a private copy of the cached database, stopped on exit."""
    source = await asyncio.to_thread(build)
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="tryton-run-") as work:
        directory = Path(work)
        shutil.copyfile(source, directory / f"{DATABASE}.sqlite")
        conf = write_conf(directory, port)
        with _server(conf, directory) as process:
            base_url = f"http://127.0.0.1:{port}"
            try:
                await asyncio.to_thread(_wait_until_answers, f"{base_url}/{DATABASE}/rpc/", process)
            except RuntimeError as error:
                log = (directory / "trytond.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{error}\n{log}") from None
            yield TrytonPeer(base_url, DATABASE, ADMIN_LOGIN, ADMIN_PASSWORD)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m connectors.peers.tryton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build (or reuse) the cached seeded database")
    serve = commands.add_parser("serve", help="run trytond on a copy of the cached database")
    serve.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args(argv)
    if arguments.command == "build":
        started = time.perf_counter()
        path = build()
        print(f"{path} ready in {time.perf_counter() - started:.1f} s")
        return
    asyncio.run(_serve_forever(arguments.port))


async def _serve_forever(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_tryton(port) as peer:
        print(
            f"Tryton {trytond_version()} at {peer.base_url} database={peer.database} "
            f"login={peer.username} password={peer.password} (Ctrl-C to stop)",
            flush=True,
        )
        await stop.wait()


if __name__ == "__main__":
    main()
