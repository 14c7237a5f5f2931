"""Benchmark: inventory events through the API to a destination, on real processes.

Run ``uv run python -m bench.inventory`` (1,000 events/s for 60 s) or ``--quick`` (200 events/s for
10 s). Absolute stock counts with a ``source_version`` are posted to ``POST /api/v1/events/inventory``
in batches at a fixed offered rate by a few concurrent connections; the web app (``shelfsync serve``),
the workers (``shelfsync worker``) and the destination REST sandbox each run in their own process.

What is measured, and how:
- accepted events/s: events the API answered 202 ``accepted`` for, over the time from the first send
  to the last answer; request latency is send → answer of each POST.
- received → acknowledged (urgent stock): from the moment the benchmark sends the request carrying an
  event to the moment the destination sandbox stored a value at least as new for that SKU (the sandbox
  notes ``time.time()`` when it stores each write; one machine, one clock). Values are monotonic per
  SKU (urgent SKUs count down from the low-stock threshold, normal SKUs count up from above it), so a
  stored value tells which events it covers; an event coalesced into a newer one is acknowledged when
  the newer value is stored. The time includes the HTTP request, the ingest, the outbox relay or the
  once-a-second sweep, the delivery job and the destination's write.
- lost: SKUs whose value at the destination is not the last one sent, once the queue has drained.
- applied twice / out of order: stored values per SKU that repeat or go back to an older value.
DESIGN §8 asks for 1,000 events/s for 60 s, p99 ≤ 1 s for urgent stock, 0 lost, 0 applied twice.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from app.settings import Settings
from bench.stack import (
    Api,
    Goal,
    Stack,
    WriteLog,
    api_client,
    make_tenant,
    queue_state,
    row,
    running_stack,
    services,
    summary_ms,
    verdict,
    write_results,
)
from connectors.sandboxes.rest import synthetic_sku

THRESHOLD = 1_000
"""Low-stock threshold of the flow: urgent SKUs stay at or below it, normal SKUs above it."""
NORMAL_START = 5_000
SOURCE_LOCATION = "WH1"
DESTINATION_LOCATION = "WEB"
BATCH_WINDOW_SECONDS = 5.0
GOAL_RATE = 1_000
GOAL_SECONDS = 60
GOAL_P99_MS = 1_000


@dataclass(frozen=True)
class Plan:
    rate: int
    seconds: int
    skus: int
    batch: int
    connections: int
    urgent_share: float
    workers: int
    drain_seconds: int


@dataclass
class Sent:
    sku: str
    value: int
    at: float
    is_urgent: bool
    accepted: bool = False
    """The request carrying it was answered 202 (a 5xx answer means the API did not store it)."""


@dataclass
class StockCounts:
    """Absolute stock counts, monotonic per SKU so that a stored value names the events it covers:
    urgent SKUs count down from the low-stock threshold, normal ones count up from above it. Used by
    this benchmark and the noisy-neighbour one (bench/tenants.py)."""

    rng: random.Random
    version: int = 0
    last: dict[str, int] = field(default_factory=dict)

    def next(self, sku: str, is_urgent: bool) -> tuple[int, dict[str, Any]]:
        """The SKU's next count and the event carrying it."""
        if is_urgent:
            value = self.last.get(sku, THRESHOLD + 1) - 1
            if value < 0:
                raise RuntimeError("an urgent SKU ran out of values; use more SKUs")
        else:
            value = self.last.get(sku, NORMAL_START) + self.rng.randint(1, 5)
        self.version += 1
        self.last[sku] = value
        return value, {
            "sku": sku,
            "location": SOURCE_LOCATION,
            "on_hand": value,
            "source": "bench-pos",
            "source_id": f"{sku}@{SOURCE_LOCATION}",
            "source_version": self.version,
        }


@dataclass
class Events:
    """The stock counts the benchmark sends: monotonic per SKU, so a stored value names its event."""

    plan: Plan
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = StockCounts(self.rng)
        skus = [synthetic_sku(n) for n in range(1, self.plan.skus + 1)]
        cut = max(int(len(skus) * self.plan.urgent_share), 1)
        self.urgent, self.normal = skus[:cut], skus[cut:]

    def batch(self, size: int, at: float) -> tuple[list[dict[str, Any]], list[Sent]]:
        items: list[dict[str, Any]] = []
        sent: list[Sent] = []
        for _ in range(size):
            is_urgent = self.rng.random() < self.plan.urgent_share
            sku = self.rng.choice(self.urgent if is_urgent else self.normal)
            value, item = self.counts.next(sku, is_urgent)
            sent.append(Sent(sku, value, at, is_urgent))
            items.append(item)
        self.sent.extend(sent)
        return items, sent

    def expected(self) -> dict[str, int]:
        """Per SKU, the newest value the API accepted: what the destination must end up holding."""
        return {event.sku: event.value for event in self.sent if event.accepted}


@dataclass
class Load:
    started: float = 0.0
    finished: float = 0.0
    requests: int = 0
    failed_requests: int = 0
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)


async def _post(
    client: httpx.AsyncClient,
    items: list[dict[str, Any]],
    sent: list[Sent],
    load: Load,
    slots: asyncio.Semaphore,
) -> None:
    began = time.perf_counter()
    try:
        response = await client.post("/api/v1/events/inventory", json={"items": items})
    except httpx.HTTPError as error:
        load.failed_requests += 1
        load.errors.append(repr(error))
        return
    finally:
        slots.release()
    load.latencies.append(time.perf_counter() - began)
    load.finished = time.time()
    if response.status_code != 202:
        load.failed_requests += 1
        load.errors.append(f"{response.status_code} {response.text[:200]}")
        return
    for event in sent:
        event.accepted = True
    body = response.json()
    for name in ("accepted", "duplicate", "rejected", "stale"):
        load.counts[name] += body[name]


async def offer(client: httpx.AsyncClient, events: Events, plan: Plan) -> Load:
    """Send ``plan.rate`` events/s for ``plan.seconds`` s; a request waits for a free connection, and
    how far sends fall behind the schedule is kept as lag."""
    load = Load()
    slots = asyncio.Semaphore(plan.connections)
    interval = plan.batch / plan.rate
    total = int(plan.rate * plan.seconds / plan.batch)
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic()
    load.started = time.time()
    for n in range(total):
        due = start + n * interval
        if (delay := due - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        load.lags.append(max(time.monotonic() - due, 0.0))
        items, sent = events.batch(plan.batch, time.time())
        tasks.append(asyncio.create_task(_post(client, items, sent, load, slots)))
        load.requests += 1
    await asyncio.gather(*tasks)
    return load


async def drain(log: WriteLog, expected: dict[str, int], seconds: float) -> tuple[float, dict[str, int]]:
    """Wait until the destination holds the newest accepted value for every SKU (or ``seconds`` pass);
    returns the wait and the latest stored value per SKU."""
    began = time.monotonic()
    latest: dict[str, int] = {}
    while True:
        for resource, key, value, _ in await log.fetch():
            if resource == "stock":
                latest[key.rpartition(":")[0]] = int(value)
        if all(latest.get(sku) == value for sku, value in expected.items()):
            break
        if time.monotonic() - began > seconds:
            break
        await asyncio.sleep(0.25)
    return time.monotonic() - began, latest


def acknowledgements(events: Events, log: WriteLog) -> dict[str, Any]:
    """Per event, when a value at least as new was stored; per SKU, repeats and regressions."""
    writes: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for resource, key, value, at in log.writes:
        if resource == "stock":
            writes[key.rpartition(":")[0]].append((int(value), at))
    urgent = set(events.urgent)
    repeated = regressed = 0
    for sku, stored in writes.items():
        seen: set[int] = set()
        newest: int | None = None
        for value, _ in stored:
            repeated += value in seen
            seen.add(value)
            is_older = newest is not None and (value > newest if sku in urgent else value < newest)
            regressed += is_older
            if newest is None or not is_older:
                newest = value
    latency: dict[bool, list[float]] = {True: [], False: []}
    exact = {True: 0, False: 0}
    unacknowledged = {True: 0, False: 0}
    for event in events.sent:
        if not event.accepted:
            continue
        stored = writes.get(event.sku, [])
        covering = [
            (value, at)
            for value, at in stored
            if (value <= event.value if event.is_urgent else value >= event.value)
        ]
        if not covering:
            unacknowledged[event.is_urgent] += 1
            continue
        first = min(at for _, at in covering)
        latency[event.is_urgent].append(max(first - event.at, 0.0))
        exact[event.is_urgent] += any(value == event.value for value, _ in stored)
    return {
        "urgent": summary_ms(latency[True]),
        "normal": summary_ms(latency[False]),
        "urgent_events": sum(e.is_urgent and e.accepted for e in events.sent),
        "urgent_written_exactly": exact[True],
        "urgent_covered_by_newer": len(latency[True]) - exact[True],
        "urgent_unacknowledged": unacknowledged[True],
        "normal_unacknowledged": unacknowledged[False],
        "stock_writes": sum(len(v) for v in writes.values()),
        "repeated_values": repeated,
        "regressions": regressed,
    }


async def wire(stack: Stack, api: Api) -> dict[str, Any]:
    config = {
        "base_url": stack.sandboxes["shop"],
        "api_key": "sandbox-key",
        "writes": {
            "inventory": {"path": "/stock/batch", "mode": "batch", "batch_field": "items", "id_field": "id"}
        },
    }
    connection = await api.connection("web shop", config)
    recipe = await api.recipe("web stock", "inventory")
    return await api.flow(
        "stock to the web shop",
        "inventory",
        connection,
        recipe,
        {"low_stock_threshold": THRESHOLD, "batch_window_seconds": BATCH_WINDOW_SECONDS},
        {"location_code": DESTINATION_LOCATION},
    )


async def run(settings: Settings, plan: Plan, profile: str | None, quick: bool) -> dict[str, Any]:
    key = await make_tenant(settings, "bench-inventory")
    async with running_stack(
        settings, sandboxes={"shop": plan.skus}, workers=plan.workers, profile=profile
    ) as stack:
        async with (
            api_client(stack, key, connections=plan.connections) as client,
            httpx.AsyncClient(base_url=stack.sandboxes["shop"], timeout=60) as shop,
        ):
            flow = await wire(stack, Api(client))
            events = Events(plan)
            load = await offer(client, events, plan)
            sent_done = time.time()
            log = WriteLog(shop)
            expected = events.expected()
            waited, _ = await drain(log, expected, plan.drain_seconds)
            stack.check_alive()
            acks = acknowledgements(events, log)
            table = await log.table("stock")
            queue = await queue_state(settings)
        stack.stop()
        profiles = stack.profiles()
    final = {sku: table.get(f"{sku}:{DESTINATION_LOCATION}", {}).get("on_hand") for sku in expected}
    lost = sum(final[sku] != value for sku, value in expected.items())
    elapsed = max(load.finished - load.started, 1e-9)
    accepted = load.counts["accepted"]
    return {
        "benchmark": "inventory: events through the API to a destination",
        "quick": quick,
        "offered_events_per_s": plan.rate,
        "offered_seconds": plan.seconds,
        "skus": plan.skus,
        "urgent_share": plan.urgent_share,
        "batch": plan.batch,
        "connections": plan.connections,
        "workers": plan.workers,
        "low_stock_threshold": THRESHOLD,
        "batch_window_seconds": BATCH_WINDOW_SECONDS,
        "flow_id": flow["id"],
        "events_sent": len(events.sent),
        "requests": load.requests,
        "failed_requests": load.failed_requests,
        "first_errors": load.errors[:5],
        "api_counts": dict(load.counts),
        "send_seconds": round(elapsed, 2),
        "accepted_events_per_s": round(accepted / elapsed, 1),
        "schedule_lag": summary_ms(load.lags),
        "request_latency": summary_ms(load.latencies),
        "drain_seconds_after_last_answer": round(waited, 2),
        "seconds_from_last_send_to_drained": round(time.time() - sent_done, 2),
        "acknowledged": acks,
        "lost_skus": lost,
        "queue_after_drain": queue,
        "skus_accepted": len(expected),
        "events_in_failed_requests": sum(not e.accepted for e in events.sent),
        "goal": {
            "events_per_s": GOAL_RATE,
            "seconds": GOAL_SECONDS,
            "urgent_p99_ms": GOAL_P99_MS,
            "lost": 0,
            "applied_twice": 0,
        },
        "profiles": profiles,
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def report(figures: dict[str, Any]) -> None:
    acks = figures["acknowledged"]
    urgent, normal, request = acks["urgent"], acks["normal"], figures["request_latency"]
    rate, seconds = figures["offered_events_per_s"], figures["offered_seconds"]
    sustained = figures["accepted_events_per_s"]
    rate_met = rate >= GOAL_RATE and seconds >= GOAL_SECONDS and sustained >= 0.99 * GOAL_RATE
    twice = acks["repeated_values"] + acks["regressions"]
    p99 = urgent.get("p99_ms", float("nan"))
    print(
        f"inventory: {rate:,} events/s offered for {seconds} s over {figures['skus']:,} SKUs "
        f"({figures['urgent_share']:.0%} urgent), batches of {figures['batch']}, "
        f"{figures['connections']} connections, {figures['workers']} worker(s)"
    )
    is_measured = figures["api_counts"].get("accepted", 0) > 0
    unmeasured = "NOT measured (the API accepted nothing)"
    row("figure", "measured", "goal")
    quick_note = "" if rate >= GOAL_RATE else " (a lower rate was offered)"
    row(
        "accepted events/s",
        f"{sustained:,.0f}",
        f"{GOAL_RATE:,}/s for {GOAL_SECONDS} s: {verdict(rate_met)}{quick_note}",
    )
    row(
        "  events sent / accepted",
        f"{figures['events_sent']:,} / {figures['api_counts'].get('accepted', 0):,}",
    )
    row(
        "  requests failed (events not stored)",
        f"{figures['failed_requests']:,} ({figures['events_in_failed_requests']:,})",
    )
    if figures["first_errors"]:
        print(f"  first error: {figures['first_errors'][0][:150]}")
    row("  request latency p50/p95/p99 ms", _triple(request))
    row("  schedule lag p99 ms", f"{figures['schedule_lag'].get('p99_ms', 0):,.0f}")
    row(
        "urgent received → acknowledged p50/p95/p99 ms",
        _triple(urgent),
        f"p99 ≤ {GOAL_P99_MS:,} ms: {verdict(p99 <= GOAL_P99_MS)}",
    )
    counted = (
        acks["urgent_events"],
        acks["urgent_written_exactly"],
        acks["urgent_covered_by_newer"],
        acks["urgent_unacknowledged"],
    )
    row("  urgent events / written / coalesced / none", " / ".join(f"{n:,}" for n in counted))
    row(
        "normal received → acknowledged p50/p95/p99 ms",
        _triple(normal),
        f"(batch window {BATCH_WINDOW_SECONDS:g} s)",
    )
    row(
        "SKUs stale at the destination after the drain",
        f"{figures['lost_skus']:,}",
        f"0 lost: {verdict(figures['lost_skus'] == 0) if is_measured else unmeasured}",
    )
    queue = figures["queue_after_drain"]
    row(
        "  queued / leased (longest lease left s)",
        f"{queue['queued']:,} / {queue['leased']:,} ({queue['longest_lease_left_s']:,.0f})",
    )
    row(
        "applied twice / out of order",
        f"{acks['repeated_values']:,} / {acks['regressions']:,}",
        f"0 applied twice: {verdict(twice == 0) if is_measured else unmeasured}",
    )
    row("destination stock writes", f"{acks['stock_writes']:,}")
    row("drained after the last answer, s", f"{figures['drain_seconds_after_last_answer']:.1f}")


def _triple(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "—"
    return f"{summary['p50_ms']:,.0f} / {summary['p95_ms']:,.0f} / {summary['p99_ms']:,.0f}"


def plan(
    quick: bool,
    rate: int | None = None,
    seconds: int | None = None,
    workers: int = 2,
    connections: int = 8,
    batch: int = 50,
) -> Plan:
    """DESIGN §8's load (1,000 events/s for 60 s over 5,000 SKUs), or a quick one (200/s for 10 s)."""
    return Plan(
        rate=rate or (200 if quick else GOAL_RATE),
        seconds=seconds or (10 if quick else GOAL_SECONDS),
        skus=1_000 if quick else 5_000,
        batch=batch,
        connections=connections,
        urgent_share=0.2,
        workers=workers,
        drain_seconds=30 if quick else 180,
    )


def goals(figures: dict[str, Any]) -> list[Goal]:
    """The DESIGN §8 lines this benchmark measures; the rate is judged only when the goal's load ran."""
    acks = figures["acknowledged"]
    rate, seconds = figures["offered_events_per_s"], figures["offered_seconds"]
    sustained = figures["accepted_events_per_s"]
    is_full = rate >= GOAL_RATE and seconds >= GOAL_SECONDS
    p99 = acks["urgent"].get("p99_ms", float("nan"))
    twice = acks["repeated_values"] + acks["regressions"]
    is_measured = figures["api_counts"].get("accepted", 0) > 0
    return [
        Goal(
            "inventory events/s sustained",
            f"{sustained:,.0f} of {rate:,} offered, {seconds} s",
            f"{GOAL_RATE:,}/s for {GOAL_SECONDS} s",
            sustained >= 0.99 * GOAL_RATE if is_full else None,
        ),
        Goal(
            "inventory urgent received → acknowledged p99",
            f"{p99:,.0f} ms (p50 {acks['urgent'].get('p50_ms', float('nan')):,.0f})",
            f"≤ {GOAL_P99_MS:,} ms",
            p99 <= GOAL_P99_MS,
        ),
        Goal(
            "inventory lost / applied twice",
            f"{figures['lost_skus']:,} / {twice:,}",
            "0 / 0",
            figures["lost_skus"] == 0 and twice == 0 if is_measured else False,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 events/s for 10 s")
    parser.add_argument("--rate", type=int, help="offered events/s")
    parser.add_argument("--seconds", type=int, help="how long to offer them")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--profile", help="run one process under cProfile: web, worker-1, …")
    args = parser.parse_args()
    load = plan(args.quick, args.rate, args.seconds, args.workers, args.connections, args.batch)
    with services("inventory") as settings:
        figures = asyncio.run(run(settings, load, args.profile, args.quick))
    report(figures)
    for name, text in figures["profiles"].items():
        print(f"\ncProfile of {name}:\n{text}")
    path = write_results("inventory", figures)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
