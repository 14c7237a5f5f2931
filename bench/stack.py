"""The real processes a sync benchmark runs against: PostgreSQL and Redis (embedded unless
``DATABASE_URL``/``REDIS_URL`` are set), a scratch database migrated to head, the web app
(``shelfsync serve``), workers (``shelfsync worker``) and REST sandboxes, each its own process.

A tenant is made through the tenancy services (partner, tenant, API key); everything else — connections,
recipes, flows, events, runs — goes through the HTTP API as a retailer's systems would send it.
``python -m bench.stack sandbox --port P --skus N`` serves a REST sandbox that records its writes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from app.embedded import EmbeddedServices, ensure_services
from app.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(round(fraction * len(ordered) + 0.5) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max of durations given in seconds, in milliseconds."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
        "p50_ms": round(percentile(values, 0.50) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def verdict(is_met: bool) -> str:
    return "met" if is_met else "NOT met"


@dataclass(frozen=True)
class Goal:
    """One DESIGN §8 line as a benchmark measured it; ``is_met`` is None when the run could not judge
    it (a quick run offers less than the goal's load)."""

    figure: str
    measured: str
    goal: str
    is_met: bool | None


def row(label: str, measured: str, goal: str = "") -> None:
    """One line of a figures table: what, the measured value, and the goal with its verdict."""
    print(f"{label:<46}{measured:>24}  {goal}".rstrip())


async def _server_version(settings: Settings) -> str:
    from sqlalchemy import text

    from app.database.engine import owner_engine

    engine = owner_engine(settings)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text("SHOW server_version")))
    finally:
        await engine.dispose()


def machine(settings: Settings) -> dict[str, Any]:
    """What the figures were measured on: cores, load, Python, PostgreSQL, the commit and the date."""
    import platform
    from datetime import UTC, datetime

    postgres = asyncio.run(_server_version(settings))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, read only
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(n, 2) for n in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "embedded_services": not ({"DATABASE_URL", "REDIS_URL"} & set(os.environ)),
        "commit": commit + ("+changes" if changed else ""),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(name: str, figures: dict[str, Any]) -> Path:
    import json

    path = RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return path


# -- services and the scratch database ---------------------------------------------------------


async def _recreate_database(admin_url: str, name: str) -> None:
    import asyncpg

    from app.database.engine import async_url

    connection = await asyncpg.connect(async_url(admin_url).replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


_held: tuple[Settings, EmbeddedServices] | None = None
"""Services started once for a series of benchmarks (``held_services``); each still gets its own database."""


def _base_services() -> tuple[Settings, EmbeddedServices]:
    env = dict(os.environ)
    env.setdefault("DATA_DIR", str(ROOT / ".shelfsync-bench"))
    return ensure_services(load_settings(env))


@contextlib.contextmanager
def held_services() -> Iterator[Settings]:
    """Keep the (embedded) services up across several ``services(...)`` blocks instead of starting and
    stopping PostgreSQL and Redis for each benchmark."""
    global _held
    base, embedded = _base_services()
    _held = (base, embedded)
    try:
        yield base
    finally:
        _held = None
        embedded.stop()


def scratch_settings(name: str) -> tuple[Settings, EmbeddedServices]:
    """Settings for a fresh database ``shelfsync_bench_<name>`` migrated to head, on the embedded
    services under ``DATA_DIR`` (default ``.shelfsync-bench``) unless the URLs are set."""
    from app.database.migrations import upgrade

    if _held is not None:  # the holder stops them; this benchmark only borrows them
        base, embedded = _held[0], EmbeddedServices()
        flush = _held[1]
    else:
        base, embedded = _base_services()
        flush = embedded
    assert base.database_url
    assert base.redis_url
    database = f"shelfsync_bench_{name}"
    asyncio.run(_recreate_database(base.database_url, database))
    url = make_url(base.database_url).set(database=database).render_as_string(hide_password=False)
    settings = replace(base, database_url=url)
    upgrade(settings)
    if "redis" in flush.started:  # our own Redis: start from an empty one
        flush.redis.flushall()
    return settings, embedded


def process_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``shelfsync serve``/``worker`` use exactly these services and keys."""
    keys = ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in settings.encryption_keys)
    # bytecode is written and reused: without it every process compiles the app again (~4 s a start)
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {
        **inherited,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "SECRET_KEY": settings.secret_key,
        "ENCRYPTION_KEYS": keys,
        "DATA_DIR": str(settings.data_dir),
        "LOG_LEVEL": settings.log_level,
        "CONNECTOR_ALLOW_PRIVATE": "true",
        "PYTHONUNBUFFERED": "1",
    }


async def make_tenant(settings: Settings, slug: str) -> str:
    """A partner, a tenant and an API key with every scope, through the tenancy services; the key."""
    from app.database.engine import Database, app_engine
    from app.database.scope import DbScope
    from tenants.api_keys import SCOPES, create_api_key
    from tenants.audit import Actor
    from tenants.service import create_partner, create_tenant

    actor = Actor("system", "bench")
    database = Database.from_engine(app_engine(settings, pool_size=1))
    try:
        async with database.transaction(DbScope.system()) as session:
            partner = await create_partner(session, actor, slug=f"{slug}-partner", name="Bench partner")
            tenant = await create_tenant(
                session, actor, partner_id=partner.id, slug=slug, name="Bench retailer"
            )
            _, secret = await create_api_key(session, tenant_id=tenant.id, name="bench", scopes=list(SCOPES))
    finally:
        await database.dispose()
    return secret


async def queue_state(settings: Settings) -> dict[str, Any]:
    """What is left in the delivery queue: rows, rows under a lease, how long the longest lease still
    runs, and the most attempts any row has had (read as the owner, across tenants)."""
    from sqlalchemy import text

    from app.database.engine import owner_engine

    engine = owner_engine(settings)
    try:
        async with engine.connect() as connection:
            found = (
                await connection.execute(
                    text(
                        "SELECT count(*), count(*) FILTER (WHERE leased_until > now()),"
                        " coalesce(extract(epoch FROM max(leased_until) - now()), 0),"
                        " coalesce(max(attempts), 0)"
                        " FROM delivery_queue"
                    )
                )
            ).one()
            dead = await connection.scalar(text("SELECT count(*) FROM dead_letters"))
    finally:
        await engine.dispose()
    return {
        "queued": found[0],
        "leased": found[1],
        "longest_lease_left_s": round(float(found[2]), 1),
        "max_attempts": found[3],
        "dead_letters": dead,
    }


# -- processes ---------------------------------------------------------------------------------


DESTINATION_RATE = {"rate": 200, "burst": 200}
"""Requests per second agreed with the sandbox destination (100 records each)."""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    profile: Path | None = None

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Stack:
    """The running processes; ``api`` is the web app's base URL, ``sandboxes`` each sandbox's."""

    settings: Settings
    log_dir: Path
    api: str = ""
    sandboxes: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], *, profile: bool = False) -> Process:
        log = self.log_dir / f"{name}.log"
        command = [sys.executable]
        prof = None
        if profile:
            prof = self.log_dir / f"{name}.prof"
            command += ["-m", "cProfile", "-o", str(prof)]
        handle = log.open("wb")
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [*command, *args],
            cwd=ROOT,
            env=process_env(self.settings),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        process = Process(name, popen, log, prof)
        self.processes.append(process)
        return process

    def pid(self, name: str) -> int:
        return next(p.popen.pid for p in self.processes if p.name == name)

    def check_alive(self) -> None:
        for process in self.processes:
            code = process.popen.poll()
            if code is not None:
                tail = process.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{process.name} exited with {code}; its log ends:\n{tail}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def profiles(self, top: int = 30) -> dict[str, str]:
        """cProfile of the processes started with ``profile``, by internal time."""
        found: dict[str, str] = {}
        for process in self.processes:
            if process.profile is not None and process.profile.exists():
                stream = io.StringIO()
                stats = pstats.Stats(str(process.profile), stream=stream)
                stats.sort_stats("tottime").print_stats(top)
                stats.sort_stats("cumulative").print_stats(top)
                found[process.name] = stream.getvalue()
        return found


async def wait_until_up(stack: Stack, url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            stack.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {within:.0f} s")
            await asyncio.sleep(0.2)


async def wait_for_log(stack: Stack, process: Process, text: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while text not in process.log.read_text(errors="replace"):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.name} did not log {text!r} within {within:.0f} s")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings,
    *,
    sandboxes: dict[str, int],
    workers: int = 2,
    profile: str | None = None,
) -> AsyncIterator[Stack]:
    """Sandboxes (name → generated SKUs), the web app and ``workers`` workers, all started and ready;
    stopped (SIGTERM, then kill) on the way out. ``profile`` (``web`` or ``worker-1``…) runs that one
    process under cProfile."""
    log_dir = settings.data_dir.resolve() / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings, log_dir)
    try:
        for name, skus in sandboxes.items():
            port = free_port()
            stack.start(name, ["-m", "bench.stack", "sandbox", "--port", str(port), "--skus", str(skus)])
            stack.sandboxes[name] = f"http://127.0.0.1:{port}"
        port = free_port()
        stack.start("web", ["-m", "app.cli", "serve", "--port", str(port)], profile=profile == "web")
        stack.api = f"http://127.0.0.1:{port}"
        started = [
            stack.start(f"worker-{n}", ["-m", "app.cli", "worker"], profile=profile == f"worker-{n}")
            for n in range(1, workers + 1)
        ]
        for url in stack.sandboxes.values():
            await wait_until_up(stack, f"{url}/_sandbox/requests")
        await wait_until_up(stack, f"{stack.api}/healthz")
        for process in started:
            await wait_for_log(stack, process, "worker.started")
        yield stack
    finally:
        stack.stop()


# -- wiring through the API --------------------------------------------------------------------


class Api:
    """The calls a retailer's setup makes, against ``/api/v1`` with the tenant's key."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, body: Any = None, expect: int = 201) -> Any:
        response = await self.client.request(method, f"/api/v1{path}", json=body)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    async def connection(self, name: str, config: dict[str, Any]) -> str:
        """A REST connection to the sandbox, with the rate a fast destination would agree to (the generic
        REST template's own default of 5 requests/s is for unknown APIs)."""
        body = await self.call(
            "POST",
            "/connections",
            {"name": name, "template": "rest", "config": config, "rate_limit": DESTINATION_RATE},
        )
        connection_id: str = body["id"]
        return connection_id

    async def recipe(self, name: str, domain: str) -> str:
        from connectors.recipes import default_recipe

        spec = default_recipe("rest", domain, "outbound")
        body = await self.call("POST", "/recipes", {"name": name, "domain": domain, "spec": spec})
        recipe_id: str = body["recipe"]["id"]
        return recipe_id

    async def flow(
        self,
        name: str,
        domain: str,
        connection_id: str,
        recipe_id: str,
        settings: dict[str, Any],
        allocation: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        destination: dict[str, Any] = {"connection_id": connection_id, "recipe_id": recipe_id}
        if allocation is not None:
            destination["allocation"] = allocation
        body: dict[str, Any] = await self.call(
            "POST",
            "/flows",
            {"name": name, "domain": domain, "settings": settings, "destinations": [destination]},
        )
        return body


def api_client(stack: Stack, key: str, connections: int = 8, timeout: float = 600) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.api,
        headers={"Authorization": f"Bearer {key}"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=timeout,
    )


class WriteLog:
    """The destination sandbox's record of stored writes, fetched incrementally."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.writes: list[tuple[str, str, Any, float]] = []

    async def fetch(self) -> list[tuple[str, str, Any, float]]:
        """The writes stored since the last fetch (also kept in ``writes``)."""
        fresh: list[tuple[str, str, Any, float]] = []
        while True:
            response = await self.client.get("/_sandbox/rest/writes", params={"after": len(self.writes)})
            response.raise_for_status()
            chunk = [(r, k, v, float(t)) for r, k, v, t in response.json()["writes"]]
            self.writes.extend(chunk)
            fresh.extend(chunk)
            if len(chunk) < 50_000:
                return fresh

    async def table(self, resource: str) -> dict[str, dict[str, Any]]:
        response = await self.client.get(f"/_sandbox/rest/state/{resource}")
        response.raise_for_status()
        table: dict[str, dict[str, Any]] = response.json()
        return table


# -- the sandbox process -----------------------------------------------------------------------


def serve_sandbox(port: int, skus: int) -> None:
    import uvicorn

    from connectors.sandboxes import rest

    app = rest.create_app(skus=skus, record_writes=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Processes for the sync benchmarks.")
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="serve a REST sandbox that records its writes")
    sandbox.add_argument("--port", type=int, required=True)
    sandbox.add_argument("--skus", type=int, default=0, help="generated items BENCH-0000001 …")
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        serve_sandbox(args.port, args.skus)


@contextlib.contextmanager
def services(name: str) -> Iterator[Settings]:
    """Scratch settings for benchmark ``name``; embedded servers stopped on the way out."""
    settings, embedded = scratch_settings(name)
    try:
        yield settings
    finally:
        embedded.stop()


if __name__ == "__main__":
    main()
