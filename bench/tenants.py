"""Benchmark: the noisy neighbour. 200 tenants share one stack; one of them publishes 250,000 prices and
bursts past its API rate while the other 199 send steady stock events (issue 10, point 5).

Run ``uv run python -m bench.tenants`` (200 tenants, 250,000 prices, 60 s phases) or ``--quick``
(20 tenants, 20,000 prices, 10 s phases). The web app (``shelfsync serve``), the workers (``shelfsync
worker``) and two REST sandboxes (``quiet``, shared by every quiet tenant, each writing its own SKUs;
``noisy``, the noisy tenant's shop) each run in their own process, as in the other sync benchmarks.

Set-up: one partner, its tenants and their API keys through the tenancy services (as ``make_tenant``
does); each quiet tenant's connection, recipe and inventory flow through the API with its own key; the
noisy tenant's prices go in through ``POST /api/v1/events/prices`` as in bench/prices.py, its prices
flow is made, and only then is it moved onto a plan with a low API rate (``--noisy-rate``/``--noisy-burst``).

Phases, on the same stack in one run:
0. warm-up: one batch per quiet tenant, drained and not measured (a flow's first delivery builds its
   recipe and connector in the worker);
1. baseline: the quiet tenants send stock events for ``--seconds`` at ``--rate`` events/s in all, each
   tenant a batch every ``--interval`` s on its own key (open loop: a slow answer does not delay the next
   batch); then drained;
2. noisy: the same quiet load while the noisy tenant triggers its full price publish and, from its own
   process (``bench.load`` burst mode), sends ``--burst`` reads as fast as ``--burst-connections``
   connections are answered; then drained, and the publish followed to its end or ``--publish-deadline``.

What is measured, and how:
- received → acknowledged of the quiet tenants' events, per phase (all, urgent, normal), as in
  bench/inventory.py: from the moment the benchmark sends the request carrying an event to the moment
  the quiet sandbox stored a value at least as new for that SKU (values are monotonic per SKU: urgent
  SKUs count down from the low-stock threshold, normal ones count up from above it). The ratio is
  phase 2's p99 over phase 1's.
- the noisy publish: from sending the full-run request to the last price stored at the noisy shop, or,
  unfinished, how many were stored by the end of phase 2 and by the deadline.
- the noisy key's answers: 2xx, 429 (and how many carried ``Retry-After`` and the ``rate-limited`` type),
  5xx; and the quiet requests' answers (any 5xx is a failure).
- lost: quiet SKUs whose value at the sandbox is not the newest accepted one once the queue drained.
- RSS (psutil) of the web and each worker process before phase 1 (after set-up and warm-up) and at the
  end, the growth between the two, and the peak sampled once a second.
Goals (issue 10): quiet p99 with the noisy tenant ≤ 2 × without it; RSS growth ≤ 10 %; 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil

from app.settings import Settings
from bench import prices
from bench.api import generate_load
from bench.inventory import THRESHOLD, StockCounts
from bench.stack import (
    Api,
    Goal,
    Stack,
    WriteLog,
    api_client,
    queue_state,
    row,
    running_stack,
    services,
    summary_ms,
    verdict,
    write_results,
)
from connectors.sandboxes.rest import synthetic_sku

DESTINATION_LOCATION = "WEB"
BATCH_WINDOW_SECONDS = 1.0
"""Shorter than bench/inventory.py's 5 s, so normal events' latency shows delays rather than the window."""
URGENT_SKUS_PER_TENANT = 2
NOISY_PLAN = "noisy-bench"
BURST_PATH = "/api/v1/prices?limit=50"
GOAL_TENANTS = 200
GOAL_PRICES = 250_000
GOAL_RATIO = 2.0
GOAL_RSS_GROWTH = 0.10


@dataclass(frozen=True)
class Plan:
    tenants: int
    """All tenants, the noisy one included."""
    skus_per_tenant: int
    rate: float
    """Quiet events/s offered in all."""
    interval: float
    """Seconds between one quiet tenant's batches."""
    seconds: int
    urgent_share: float
    prices: int
    burst: int
    burst_connections: int
    noisy_rate: float
    noisy_burst: int
    workers: int
    connections: int
    drain_seconds: int
    publish_deadline: float
    timeline_step: float

    @property
    def quiet_tenants(self) -> int:
        return self.tenants - 1

    @property
    def events_per_batch(self) -> int:
        return max(round(self.rate * self.interval / self.quiet_tenants), 1)

    @property
    def offered_rate(self) -> float:
        return self.events_per_batch * self.quiet_tenants / self.interval


# -- set-up -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    """A tenant the benchmark made, with the secret of its API key."""

    index: int
    slug: str
    tenant_id: uuid.UUID
    key: str


async def seed_tenants(settings: Settings, count: int) -> tuple[uuid.UUID, list[Seeded]]:
    """One partner with ``count`` tenants (the last is ``noisy``), each an API key with every scope,
    through the tenancy services in one transaction; the partner id and the tenants."""
    from app.database.engine import Database, app_engine
    from app.database.scope import DbScope
    from tenants.api_keys import SCOPES, create_api_key
    from tenants.audit import Actor
    from tenants.service import create_partner, create_tenant

    actor = Actor("system", "bench")
    database = Database.from_engine(app_engine(settings, pool_size=1))
    seeded: list[Seeded] = []
    try:
        async with database.transaction(DbScope.system()) as session:
            partner = await create_partner(session, actor, slug="bench-tenants", name="Bench partner")
            for index in range(count):
                slug = "noisy" if index == count - 1 else f"quiet-{index + 1:03d}"
                tenant = await create_tenant(
                    session, actor, partner_id=partner.id, slug=slug, name=f"Bench {slug}"
                )
                _, secret = await create_api_key(
                    session, tenant_id=tenant.id, name="bench", scopes=list(SCOPES)
                )
                seeded.append(Seeded(index, slug, tenant.id, secret))
            partner_id = partner.id
    finally:
        await database.dispose()
    return partner_id, seeded


async def limit_noisy(settings: Settings, partner_id: uuid.UUID, tenant_id: uuid.UUID, plan: Plan) -> None:
    """Give the partner a plan with the low API rate and move the noisy tenant onto it (the rest of the
    terms are the defaults, so its concurrency cap is the standard one)."""
    import msgspec
    from sqlalchemy import update

    from app.clock import SystemClock
    from app.database.engine import Database, app_engine
    from app.database.scope import DbScope
    from app.plans.service import save_plan
    from app.plans.terms import DEFAULT_TERMS
    from tenants.models import Tenant

    quotas = msgspec.structs.replace(
        DEFAULT_TERMS.quotas, api_requests_per_second=plan.noisy_rate, api_burst=plan.noisy_burst
    )
    terms = msgspec.structs.replace(DEFAULT_TERMS, name="Noisy bench", quotas=quotas)
    database = Database.from_engine(app_engine(settings, pool_size=1))
    try:
        async with database.transaction(DbScope.system()) as session:
            await save_plan(session, partner_id, NOISY_PLAN, terms, SystemClock().now())
            await session.execute(update(Tenant).where(Tenant.id == tenant_id).values(plan=NOISY_PLAN))
    finally:
        await database.dispose()


async def wire_quiet(stack: Stack, tenants: list[Seeded], concurrency: int = 4) -> None:
    """Each quiet tenant's connection to the shared sandbox, recipe and inventory flow, with its key."""
    slots = asyncio.Semaphore(concurrency)
    config = {
        "base_url": stack.sandboxes["quiet"],
        "api_key": "sandbox-key",
        "writes": {
            "inventory": {"path": "/stock/batch", "mode": "batch", "batch_field": "items", "id_field": "id"}
        },
    }

    async def wire(tenant: Seeded) -> None:
        async with slots, api_client(stack, tenant.key, connections=1, timeout=120) as client:
            api = Api(client)
            connection = await api.connection("web shop", config)
            recipe = await api.recipe("web stock", "inventory")
            await api.flow(
                "stock to the web shop",
                "inventory",
                connection,
                recipe,
                {"low_stock_threshold": THRESHOLD, "batch_window_seconds": BATCH_WINDOW_SECONDS},
                {"location_code": DESTINATION_LOCATION},
            )

    await asyncio.gather(*(wire(tenant) for tenant in tenants))


async def wire_noisy(stack: Stack, client: httpx.AsyncClient) -> str:
    """The noisy tenant's prices flow to its own shop (batch writer, as bench/prices.py); the flow id."""
    api = Api(client)
    config = {
        "base_url": stack.sandboxes["noisy"],
        "api_key": "sandbox-key",
        "writes": {"prices": prices.WRITERS["batch"]},
    }
    connection = await api.connection("web shop", config)
    recipe = await api.recipe("web prices", "prices")
    flow = await api.flow("prices to the web shop", "prices", connection, recipe, {})
    flow_id: str = flow["id"]
    return flow_id


async def ingest_noisy(client: httpx.AsyncClient, price_list: dict[str, str]) -> dict[str, Any]:
    """The noisy tenant's prices into the canonical store, as bench/prices.py does (10,000 a call, 4,000
    if that is refused)."""
    load = prices.Plan(len(price_list), 10_000, 2, "batch", 0, 0)
    try:
        return await prices.ingest(client, price_list, load, load.batch)
    except prices.IngestError:
        return await prices.ingest(client, price_list, load, prices.FALLBACK_BATCH)


# -- the quiet load -----------------------------------------------------------------------------


@dataclass
class Sent:
    tenant: int
    sku: str
    value: int
    at: float
    is_urgent: bool
    phase: str
    accepted: bool = False


@dataclass
class Quiet:
    """The quiet tenants' stock counts: each tenant its own SKUs at the shared sandbox, monotonic per SKU
    so that a stored value names the events it covers."""

    tenants: list[Seeded]
    plan: Plan
    rng: random.Random = field(default_factory=lambda: random.Random(17))
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = StockCounts(self.rng)

    def skus_of(self, tenant: Seeded) -> list[str]:
        first = tenant.index * self.plan.skus_per_tenant + 1
        return [synthetic_sku(n) for n in range(first, first + self.plan.skus_per_tenant)]

    def is_urgent_sku(self, sku: str) -> bool:
        return (int(sku.rpartition("-")[2]) - 1) % self.plan.skus_per_tenant < URGENT_SKUS_PER_TENANT

    def batch(
        self, tenant: Seeded, size: int, at: float, phase: str
    ) -> tuple[list[dict[str, Any]], list[Sent]]:
        skus = self.skus_of(tenant)
        urgent, normal = skus[:URGENT_SKUS_PER_TENANT], skus[URGENT_SKUS_PER_TENANT:]
        items: list[dict[str, Any]] = []
        sent: list[Sent] = []
        for _ in range(size):
            is_urgent = self.rng.random() < self.plan.urgent_share
            sku = self.rng.choice(urgent if is_urgent else normal)
            value, item = self.counts.next(sku, is_urgent)
            sent.append(Sent(tenant.index, sku, value, at, is_urgent, phase))
            items.append(item)
        self.sent.extend(sent)
        return items, sent

    def expected(self) -> dict[str, int]:
        """Per SKU, the newest value the API accepted: what the sandbox must end up holding."""
        return {event.sku: event.value for event in self.sent if event.accepted}


@dataclass
class Load:
    started: float = 0.0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "server_errors": self.server_errors,
            "request_latency": summary_ms(self.latencies),
            "schedule_lag": summary_ms(self.lags),
            "first_errors": self.errors[:5],
        }


async def _post(
    client: httpx.AsyncClient, tenant: Seeded, items: list[dict[str, Any]], sent: list[Sent], load: Load
) -> None:
    began = time.perf_counter()
    try:
        response = await client.post(
            "/api/v1/events/inventory",
            json={"items": items},
            headers={"Authorization": f"Bearer {tenant.key}"},
        )
    except httpx.HTTPError as error:
        load.statuses[0] += 1
        load.errors.append(f"{tenant.slug}: {error!r}")
        return
    load.latencies.append(time.perf_counter() - began)
    load.statuses[response.status_code] += 1
    if response.status_code != 202:
        load.errors.append(f"{tenant.slug}: {response.status_code} {response.text[:200]}")
        return
    for event in sent:
        event.accepted = True


async def offer(client: httpx.AsyncClient, quiet: Quiet, phase: str, rounds: int) -> Load:
    """``rounds`` batches from every quiet tenant, one every ``interval`` s each, the tenants spread
    evenly over the interval; open loop (each batch is sent when due, whatever is still unanswered)."""
    plan = quiet.plan
    load = Load()
    count = len(quiet.tenants)
    order = list(quiet.tenants)
    random.Random(phase).shuffle(order)
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic() + 0.05
    load.started = time.time() + 0.05
    for n in range(rounds * count):
        due = start + n * plan.interval / count
        if (delay := due - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        load.lags.append(max(time.monotonic() - due, 0.0))
        tenant = order[n % count]
        items, sent = quiet.batch(tenant, plan.events_per_batch, time.time(), phase)
        tasks.append(asyncio.create_task(_post(client, tenant, items, sent, load)))
        load.requests += 1
    await asyncio.gather(*tasks)
    return load


@dataclass
class Destination:
    """The quiet sandbox's stored writes, and the newest stored value per SKU."""

    log: WriteLog
    latest: dict[str, int] = field(default_factory=dict)

    async def refresh(self) -> None:
        for resource, key, value, _ in await self.log.fetch():
            if resource == "stock":
                self.latest[key.rpartition(":")[0]] = int(value)

    async def drain(self, expected: dict[str, int], seconds: float) -> float:
        """Wait until every SKU holds its newest accepted value (or ``seconds`` pass); the wait."""
        began = time.monotonic()
        while True:
            await self.refresh()
            if all(self.latest.get(sku) == value for sku, value in expected.items()):
                break
            if time.monotonic() - began > seconds:
                break
            await asyncio.sleep(0.25)
        return time.monotonic() - began


def acknowledgements(quiet: Quiet, log: WriteLog) -> tuple[dict[str, Any], list[tuple[Sent, float]]]:
    """Per phase, received → acknowledged of the accepted events (all, urgent, normal) and how many were
    never acknowledged; over the run, stored values per SKU that repeat or go back. Also each
    acknowledged event with its latency (for the timeline)."""
    writes: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for resource, key, value, at in log.writes:
        if resource == "stock":
            writes[key.rpartition(":")[0]].append((int(value), at))
    repeated = regressed = 0
    for sku, stored in writes.items():
        is_urgent = quiet.is_urgent_sku(sku)
        seen: set[int] = set()
        newest: int | None = None
        for value, _ in stored:
            repeated += value in seen
            seen.add(value)
            is_older = newest is not None and (value > newest if is_urgent else value < newest)
            regressed += is_older
            if newest is None or not is_older:
                newest = value
    latency: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"all": [], "urgent": [], "normal": []})
    unacknowledged: dict[str, int] = defaultdict(int)
    lags: list[tuple[Sent, float]] = []
    for event in quiet.sent:
        if not event.accepted:
            continue
        covering = [
            at
            for value, at in writes.get(event.sku, [])
            if (value <= event.value if event.is_urgent else value >= event.value)
        ]
        if not covering:
            unacknowledged[event.phase] += 1
            continue
        lag = max(min(covering) - event.at, 0.0)
        lags.append((event, lag))
        latency[event.phase]["all"].append(lag)
        latency[event.phase]["urgent" if event.is_urgent else "normal"].append(lag)
    phases = {
        phase: {kind: summary_ms(values) for kind, values in kinds.items()}
        | {"unacknowledged": unacknowledged[phase]}
        for phase, kinds in latency.items()
    }
    figures = {
        "phases": phases,
        "stock_writes": sum(len(v) for v in writes.values()),
        "repeated_values": repeated,
        "regressions": regressed,
    }
    return figures, lags


def timeline(lags: list[tuple[Sent, float]], phase: str, started: float, step: float) -> list[dict[str, Any]]:
    """The phase's quiet events by when they were sent (``step`` s buckets from its start): how many, and
    the urgent and all-events p99, to line up with the burst and the publish."""
    buckets: dict[int, list[tuple[bool, float]]] = defaultdict(list)
    for event, lag in lags:
        if event.phase == phase:
            buckets[int((event.at - started) // step)].append((event.is_urgent, lag))
    found: list[dict[str, Any]] = []
    for n in sorted(buckets):
        entries = buckets[n]
        urgent = [lag for is_urgent, lag in entries if is_urgent]
        found.append(
            {
                "from_s": round(n * step, 1),
                "events": len(entries),
                "urgent_p99_ms": summary_ms(urgent).get("p99_ms"),
                "all_p99_ms": summary_ms([lag for _, lag in entries]).get("p99_ms"),
            }
        )
    return found


# -- the noisy tenant ---------------------------------------------------------------------------


@dataclass
class Publish:
    """The noisy tenant's full price publish as its shop sees it."""

    wanted: dict[str, str]
    started: float = 0.0
    answered: float = 0.0
    status: int = 0
    stored: dict[str, float] = field(default_factory=dict)
    wrong: int = 0
    stored_by_phase_end: int | None = None

    async def trigger(self, client: httpx.AsyncClient, flow_id: str) -> None:
        self.started = time.time()
        response = await client.post(f"/api/v1/flows/{flow_id}/runs", json={"kind": "full"})
        self.answered = time.time()
        self.status = response.status_code
        if response.status_code != 202:
            raise RuntimeError(f"full run: {response.status_code} {response.text[:300]}")

    async def follow(self, log: WriteLog, until: float) -> None:
        """Read the shop's stored prices until it holds every one or the wall clock reaches ``until``."""
        while len(self.stored) < len(self.wanted) and time.time() < until:
            await asyncio.sleep(1.0)
            for resource, key, value, at in await log.fetch():
                if resource != "prices":
                    continue
                if self.wanted.get(key) != value:
                    self.wrong += 1
                elif key not in self.stored:
                    self.stored[key] = at

    @property
    def is_complete(self) -> bool:
        return len(self.stored) == len(self.wanted)

    def figures(self, phase_started: float) -> dict[str, Any]:
        first = min(self.stored.values(), default=None)
        last = max(self.stored.values(), default=None)
        rate = (
            len(self.stored) / (last - first)
            if first is not None and last is not None and last > first
            else 0.0
        )
        return {
            "prices": len(self.wanted),
            "trigger_status": self.status,
            "trigger_request_seconds": round(self.answered - self.started, 2),
            "first_price_stored_after_s": round(first - self.started, 2) if first is not None else None,
            "complete": self.is_complete,
            "stored": len(self.stored),
            "stored_by_phase_end": self.stored_by_phase_end,
            "wrong_values": self.wrong,
            "seconds": round(last - self.started, 2) if self.is_complete and last is not None else None,
            "delivery_prices_per_s": round(rate, 1),
            "triggered_after_phase_start_s": round(self.started - phase_started, 2),
            "last_stored_after_phase_start_s": round(last - phase_started, 2) if last is not None else None,
        }


async def burst(stack: Stack, key: str, plan: Plan) -> dict[str, Any]:
    """The noisy key's burst of reads from its own process; answers counted by status."""
    spec = {
        "mode": "burst",
        "api": stack.api,
        "key": key,
        "path": BURST_PATH,
        "requests": plan.burst,
        "connections": plan.burst_connections,
    }
    began = time.time()
    measured = await generate_load(stack, "noisy-burst", spec)
    records = measured["records"]
    statuses: dict[str, int] = defaultdict(int)
    for _, status, _ in records:
        statuses[str(status)] += 1
    return {
        "requests": len(records),
        "connections": plan.burst_connections,
        "path": BURST_PATH,
        "began": began,
        "seconds": round(measured["seconds"], 2),
        "statuses": dict(sorted(statuses.items())),
        "ok": sum(200 <= status < 300 for _, status, _ in records),
        "rate_limited": sum(status == 429 for _, status, _ in records),
        "rate_limited_with_retry_after": sum(is_told for _, _, is_told in records),
        "server_errors": sum(status >= 500 for _, status, _ in records),
        "failed_connections": sum(status == 0 for _, status, _ in records),
        "request_latency": summary_ms([latency for latency, _, _ in records]),
    }


# -- memory -------------------------------------------------------------------------------------


@dataclass
class Memory:
    """RSS of the web and worker processes: snapshots by label, and the peak sampled once a second."""

    pids: dict[str, int]
    snapshots: dict[str, dict[str, int]] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)

    def read(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for name, pid in self.pids.items():
            try:
                found[name] = psutil.Process(pid).memory_info().rss
            except psutil.Error:  # a process that died shows as 0; check_alive reports it
                found[name] = 0
            self.peak[name] = max(self.peak.get(name, 0), found[name])
        return found

    def snapshot(self, label: str) -> None:
        self.snapshots[label] = self.read()

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.read()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def figures(self, start: str, end: str) -> dict[str, Any]:
        mib = 1024 * 1024
        processes = {
            name: {
                "start_mib": round(self.snapshots[start][name] / mib, 1),
                "end_mib": round(self.snapshots[end][name] / mib, 1),
                "peak_mib": round(self.peak[name] / mib, 1),
                "growth": round(self.snapshots[end][name] / max(self.snapshots[start][name], 1) - 1, 4),
            }
            for name in self.pids
        }
        return {
            "start": start,
            "end": end,
            "processes": processes,
            "snapshots_mib": {
                label: {name: round(rss / mib, 1) for name, rss in found.items()}
                for label, found in self.snapshots.items()
            },
            "max_growth": max(p["growth"] for p in processes.values()),
        }


# -- the run ------------------------------------------------------------------------------------


async def run(settings: Settings, plan: Plan, profile: str | None, quick: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    began = time.perf_counter()
    partner_id, seeded = await seed_tenants(settings, plan.tenants)
    seed_seconds = time.perf_counter() - began
    quiet_tenants, noisy = seeded[:-1], seeded[-1]
    price_list = prices.price_list(plan.prices)
    quiet_skus = plan.quiet_tenants * plan.skus_per_tenant
    async with running_stack(
        settings, sandboxes={"quiet": quiet_skus, "noisy": plan.prices}, workers=plan.workers, profile=profile
    ) as stack:
        limits = httpx.Limits(max_connections=plan.connections, max_keepalive_connections=plan.connections)
        async with (
            httpx.AsyncClient(base_url=stack.api, limits=limits, timeout=120) as client,
            api_client(stack, noisy.key, connections=2) as noisy_client,
            httpx.AsyncClient(base_url=stack.sandboxes["quiet"], timeout=120) as quiet_shop,
            httpx.AsyncClient(base_url=stack.sandboxes["noisy"], timeout=120) as noisy_shop,
        ):
            began = time.perf_counter()
            await wire_quiet(stack, quiet_tenants)
            wire_seconds = time.perf_counter() - began
            ingested = await ingest_noisy(noisy_client, price_list)
            flow_id = await wire_noisy(stack, noisy_client)
            await limit_noisy(settings, partner_id, noisy.tenant_id, plan)
            print(
                f"set up: {plan.tenants} tenants in {seed_seconds:.1f} s, {plan.quiet_tenants} quiet flows "
                f"wired in {wire_seconds:.1f} s, {plan.prices:,} noisy prices ingested in "
                f"{ingested['seconds']:.1f} s",
                flush=True,
            )

            quiet = Quiet(quiet_tenants, plan)
            destination = Destination(WriteLog(quiet_shop))
            await offer(client, quiet, "warm-up", 1)
            warm_drain = await destination.drain(quiet.expected(), plan.drain_seconds)
            stack.check_alive()

            memory = Memory({name: stack.pid(name) for name in ["web", *_workers(plan)]})
            memory.snapshot("before phase 1")
            stop = asyncio.Event()
            sampler = asyncio.create_task(memory.sample(stop))
            rounds = max(int(plan.seconds / plan.interval), 1)

            baseline = await offer(client, quiet, "baseline", rounds)
            baseline_drain = await destination.drain(quiet.expected(), plan.drain_seconds)
            stack.check_alive()
            memory.snapshot("after phase 1")
            print(f"phase 1 (baseline) sent and drained in {baseline_drain:.1f} s", flush=True)

            publish = Publish({f"{sku}:{prices.PRICE_LIST}": amount for sku, amount in price_list.items()})
            noisy_log = WriteLog(noisy_shop)
            await publish.trigger(noisy_client, flow_id)
            following = asyncio.create_task(
                publish.follow(noisy_log, publish.started + plan.publish_deadline)
            )
            bursting = asyncio.create_task(burst(stack, noisy.key, plan))
            noisy_load = await offer(client, quiet, "noisy", rounds)
            phase_end = time.time()
            publish.stored_by_phase_end = sum(at <= phase_end for at in publish.stored.values())
            burst_figures = await bursting
            burst_began = burst_figures.pop("began")
            burst_figures["started_after_phase_start_s"] = round(burst_began - noisy_load.started, 2)
            burst_figures["ended_after_phase_start_s"] = round(
                burst_began + burst_figures["seconds"] - noisy_load.started, 2
            )
            noisy_drain = await destination.drain(quiet.expected(), plan.drain_seconds)
            print(f"phase 2 (noisy) sent and quiet events drained in {noisy_drain:.1f} s", flush=True)
            await following
            # the prices stored by the end of phase 2 are known only once the log was read past it
            publish.stored_by_phase_end = sum(at <= phase_end for at in publish.stored.values())
            stack.check_alive()
            memory.snapshot("end")
            stop.set()
            await sampler
            acks, lags = acknowledgements(quiet, destination.log)
            table = await destination.log.table("stock")
            queue = await queue_state(settings)
        stack.stop()
        profiles = stack.profiles()
    expected = quiet.expected()
    lost = sum(
        table.get(f"{sku}:{DESTINATION_LOCATION}", {}).get("on_hand") != value
        for sku, value in expected.items()
    )
    return {
        "benchmark": "tenants: the noisy neighbour",
        "quick": quick,
        "tenants": plan.tenants,
        "quiet_tenants": plan.quiet_tenants,
        "skus_per_tenant": plan.skus_per_tenant,
        "urgent_share": plan.urgent_share,
        "offered_events_per_s": round(plan.offered_rate, 1),
        "interval_s": plan.interval,
        "events_per_batch": plan.events_per_batch,
        "phase_seconds": plan.seconds,
        "workers": plan.workers,
        "low_stock_threshold": THRESHOLD,
        "batch_window_seconds": BATCH_WINDOW_SECONDS,
        "noisy_plan": {"api_requests_per_second": plan.noisy_rate, "api_burst": plan.noisy_burst},
        "set_up": {
            "seed_seconds": round(seed_seconds, 2),
            "wire_seconds": round(wire_seconds, 2),
            "noisy_ingest": ingested,
            "warm_up_drain_seconds": round(warm_drain, 2),
        },
        "quiet": {
            "baseline": baseline.figures(),
            "noisy": noisy_load.figures(),
            "drain_seconds": {"baseline": round(baseline_drain, 2), "noisy": round(noisy_drain, 2)},
        },
        "acknowledged": acks,
        "ratios": _ratios(acks),
        "timeline_step_s": plan.timeline_step,
        "timeline": {
            phase: timeline(lags, phase, load.started, plan.timeline_step)
            for phase, load in (("baseline", baseline), ("noisy", noisy_load))
        },
        "publish": publish.figures(noisy_load.started),
        "burst": burst_figures,
        "lost_skus": lost,
        "skus_accepted": len(expected),
        "events_sent": sum(e.phase != "warm-up" for e in quiet.sent),
        "events_not_accepted": sum(not e.accepted for e in quiet.sent),
        "memory": memory.figures("before phase 1", "end"),
        "queue_after_drain": queue,
        "goal": {"p99_ratio": GOAL_RATIO, "rss_growth": GOAL_RSS_GROWTH, "lost": 0, "server_errors": 0},
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "profiles": profiles,
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _workers(plan: Plan) -> list[str]:
    return [f"worker-{n}" for n in range(1, plan.workers + 1)]


def _ratios(acks: dict[str, Any]) -> dict[str, float | None]:
    phases = acks["phases"]
    found: dict[str, float | None] = {}
    for kind in ("all", "urgent", "normal"):
        without = phases.get("baseline", {}).get(kind, {}).get("p99_ms")
        with_noisy = phases.get("noisy", {}).get(kind, {}).get("p99_ms")
        found[kind] = round(with_noisy / without, 2) if without and with_noisy is not None else None
    return found


# -- figures ------------------------------------------------------------------------------------


def _pair(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "—"
    return f"{summary['p50_ms']:,.0f} / {summary['p99_ms']:,.0f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _is_full(figures: dict[str, Any]) -> bool:
    return figures["tenants"] >= GOAL_TENANTS and figures["publish"]["prices"] >= GOAL_PRICES


def report(figures: dict[str, Any]) -> None:
    phases = figures["acknowledged"]["phases"]
    baseline, noisy = phases.get("baseline", {}), phases.get("noisy", {})
    ratios, published, bursted = figures["ratios"], figures["publish"], figures["burst"]
    memory, limits = figures["memory"], figures["noisy_plan"]
    before, after = figures["load_average"]["before"][0], figures["load_average"]["after"][0]
    print(
        f"tenants: {figures['tenants']} tenants ({figures['quiet_tenants']} quiet, "
        f"{figures['skus_per_tenant']} SKUs each, {figures['offered_events_per_s']:,.0f} events/s in all,"
        f" {figures['urgent_share']:.0%} urgent, a batch of {figures['events_per_batch']} per tenant every "
        f"{figures['interval_s']:g} s), {figures['phase_seconds']} s phases, {figures['workers']} worker(s);"
        f" noisy tenant at {limits['api_requests_per_second']:g} requests/s, burst {limits['api_burst']};"
        f" load average {before:.1f} → {after:.1f}"
    )
    row("figure", "measured", "goal")
    row("quiet received → acknowledged p50 / p99 ms", "")
    for kind in ("all", "urgent", "normal"):
        goal = ""
        if kind in ("all", "urgent"):
            value = ratios[kind]
            goal = f"p99 ≤ {GOAL_RATIO:g}× without: {verdict(value is not None and value <= GOAL_RATIO)}"
        row(f"  {kind}: without the noisy tenant", _pair(baseline.get(kind, {})))
        row(f"  {kind}: with it", _pair(noisy.get(kind, {})))
        row(f"  {kind}: p99 ratio", _ratio(ratios[kind]), goal)
    row(
        "  events sent / not accepted / unacknowledged",
        f"{figures['events_sent']:,} / {figures['events_not_accepted']:,} / "
        f"{baseline.get('unacknowledged', 0) + noisy.get('unacknowledged', 0):,}",
    )
    for phase in ("baseline", "noisy"):
        load = figures["quiet"][phase]
        row(
            f"  quiet requests ({phase}): p99 ms / lag p99 ms",
            f"{load['request_latency'].get('p99_ms', 0):,.0f} / {load['schedule_lag'].get('p99_ms', 0):,.0f}",
        )
    row("quiet p99 ms by when sent (urgent / all)", "")
    for phase in ("baseline", "noisy"):
        cells = [
            f"{b['from_s']:g}s {b['urgent_p99_ms'] or 0:,.0f}/{b['all_p99_ms'] or 0:,.0f}"
            for b in figures["timeline"][phase]
        ]
        print(f"  {phase}: " + ", ".join(cells))
    print(
        f"  (noisy phase: publish triggered at {published['triggered_after_phase_start_s']:g} s, last price "
        f"stored at {published['last_stored_after_phase_start_s'] or 0:g} s; burst from "
        f"{bursted['started_after_phase_start_s']:g} s to {bursted['ended_after_phase_start_s']:g} s)"
    )
    done = published["seconds"]
    measured = (
        f"{done:,.1f}"
        if done is not None
        else f"unfinished: {published['stored']:,} of {published['prices']:,}"
    )
    row(f"noisy publish of {published['prices']:,} prices, s", measured)
    row("  prices stored by the end of phase 2", f"{published['stored_by_phase_end'] or 0:,}")
    row("  delivery prices/s (first → last stored)", f"{published['delivery_prices_per_s']:,.0f}")
    row("  wrong values written", f"{published['wrong_values']:,}")
    row(
        f"noisy burst: {bursted['requests']:,} reads on {bursted['connections']} connections, s",
        f"{bursted['seconds']:,.1f}",
    )
    row(
        "  2xx / 429 (with Retry-After) / 5xx",
        f"{bursted['ok']:,} / {bursted['rate_limited']:,} ({bursted['rate_limited_with_retry_after']:,})"
        f" / {bursted['server_errors']:,}",
        f"0 5xx: {verdict(bursted['server_errors'] == 0)}",
    )
    quiet_5xx = figures["quiet"]["baseline"]["server_errors"] + figures["quiet"]["noisy"]["server_errors"]
    row("quiet requests answered 5xx", f"{quiet_5xx:,}", f"0: {verdict(quiet_5xx == 0)}")
    row(
        "quiet SKUs lost (stale after the drain)",
        f"{figures['lost_skus']:,}",
        f"0: {verdict(figures['lost_skus'] == 0)}",
    )
    acks = figures["acknowledged"]
    row("  applied twice / out of order", f"{acks['repeated_values']:,} / {acks['regressions']:,}")
    for name, process in memory["processes"].items():
        row(
            f"RSS {name}: start → end MiB (peak)",
            f"{process['start_mib']:,.0f} → {process['end_mib']:,.0f} ({process['peak_mib']:,.0f})",
            f"{process['growth']:+.1%}",
        )
    row(
        "  largest RSS growth",
        f"{memory['max_growth']:+.1%}",
        f"≤ {GOAL_RSS_GROWTH:.0%}: {verdict(memory['max_growth'] <= GOAL_RSS_GROWTH)}",
    )
    queue = figures["queue_after_drain"]
    row("queued / dead letters at the end", f"{queue['queued']:,} / {queue['dead_letters']:,}")


def goals(figures: dict[str, Any]) -> list[Goal]:
    """Issue 10's lines: the ratio and RSS growth are judged only at 200 tenants and 250,000 prices;
    lost events and 5xx always."""
    phases = figures["acknowledged"]["phases"]
    ratios = figures["ratios"]
    is_full = _is_full(figures)
    found: list[Goal] = []
    for kind, label in (("all", "all"), ("urgent", "urgent")):
        value = ratios[kind]
        without = phases.get("baseline", {}).get(kind, {}).get("p99_ms", float("nan"))
        with_noisy = phases.get("noisy", {}).get(kind, {}).get("p99_ms", float("nan"))
        is_met = value is not None and value <= GOAL_RATIO
        found.append(
            Goal(
                f"noisy neighbour: quiet p99 with/without ({label})",
                f"{_ratio(value)} ({with_noisy:,.0f} / {without:,.0f} ms)",
                f"≤ {GOAL_RATIO:g}×",
                is_met if is_full else None,
            )
        )
    memory = figures["memory"]
    growth = memory["max_growth"]
    found.append(
        Goal(
            "noisy neighbour: RSS growth, web and workers",
            ", ".join(f"{name} {p['growth']:+.1%}" for name, p in memory["processes"].items()),
            f"≤ {GOAL_RSS_GROWTH:.0%}",
            growth <= GOAL_RSS_GROWTH if is_full else None,
        )
    )
    server_errors = (
        figures["quiet"]["baseline"]["server_errors"]
        + figures["quiet"]["noisy"]["server_errors"]
        + figures["burst"]["server_errors"]
    )
    found.append(
        Goal(
            "noisy neighbour: quiet events lost / 5xx",
            f"{figures['lost_skus']:,} / {server_errors:,}",
            "0 / 0",
            figures["lost_skus"] == 0 and server_errors == 0 and figures["skus_accepted"] > 0,
        )
    )
    return found


def plan(
    quick: bool,
    tenants: int | None = None,
    prices_count: int | None = None,
    seconds: int | None = None,
    rate: float | None = None,
    interval: float | None = None,
    workers: int = 2,
    burst_requests: int | None = None,
    noisy_rate: float = 20.0,
    noisy_burst: int = 40,
) -> Plan:
    """Issue 10's load (200 tenants, 250,000 prices, 150 quiet events/s, 60 s phases, a burst of 2,000),
    or a quick one (20 tenants, 20,000 prices, 100 events/s, 10 s phases, a burst of 300).

    Each quiet tenant sends a batch every 30 s (4 s quick), so the API sees about 7 (5) requests/s: on
    two cores the web process keeps up with that in the baseline, where a batch a second per tenant
    (20 requests/s) already built a queue of many seconds on a busy machine, and a baseline that does not
    keep up measures its own backlog rather than the noisy tenant's effect."""
    return Plan(
        tenants=tenants or (20 if quick else GOAL_TENANTS),
        skus_per_tenant=10,
        rate=rate or (100 if quick else 150),
        interval=interval or (4.0 if quick else 30.0),
        seconds=seconds or (10 if quick else 60),
        urgent_share=0.2,
        prices=prices_count or (20_000 if quick else GOAL_PRICES),
        burst=burst_requests or (300 if quick else 2_000),
        burst_connections=4,
        noisy_rate=noisy_rate,
        noisy_burst=noisy_burst,
        workers=workers,
        connections=16,
        drain_seconds=30 if quick else 120,
        publish_deadline=30 if quick else 420,
        timeline_step=2.0 if quick else 10.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20 tenants, 20,000 prices, 10 s phases")
    parser.add_argument("--tenants", type=int, help="tenants in all, the noisy one included")
    parser.add_argument("--prices", type=int, help="the noisy tenant's price list")
    parser.add_argument("--seconds", type=int, help="length of each phase")
    parser.add_argument("--rate", type=float, help="quiet events/s in all")
    parser.add_argument("--interval", type=float, help="seconds between one quiet tenant's batches")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--burst", type=int, help="reads in the noisy tenant's burst")
    parser.add_argument("--noisy-rate", type=float, default=20.0, help="the noisy plan's requests/s")
    parser.add_argument("--noisy-burst", type=int, default=40, help="the noisy plan's burst")
    parser.add_argument("--profile", help="run one process under cProfile: web, worker-1, …")
    args = parser.parse_args()
    load = plan(
        args.quick,
        args.tenants,
        args.prices,
        args.seconds,
        args.rate,
        args.interval,
        args.workers,
        args.burst,
        args.noisy_rate,
        args.noisy_burst,
    )
    with services("tenants") as settings:
        figures = asyncio.run(run(settings, load, args.profile, args.quick))
    report(figures)
    for name, text in figures["profiles"].items():
        print(f"\ncProfile of {name}:\n{text}")
    path = write_results("tenants", figures)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
