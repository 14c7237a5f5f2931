"""Benchmark: the HTTP API on real processes — ingest throughput, reads at a fixed rate, and our ingest
path against PostgreSQL ``COPY`` of the same rows.

Run ``uv run python -m bench.api`` or ``--quick``. The web app (``shelfsync serve``) runs as its own
process, and so does the load (``python -m bench.load``); no worker runs unless ``--workers`` says so,
so the API has the machine to itself and accepted changes wait in the delivery queue. Three phases:

1. ingest vs COPY: N stock counts go through ``POST /api/v1/events/inventory`` in batches (validation,
   deduplication, the ingress log, the newest-wins upsert of ``stock_levels``), before any flow exists;
   then the same rows are ``COPY``'d into a table made ``LIKE stock_levels INCLUDING ALL`` in the same
   database. DESIGN §8: ingest ≥ 0.3 of COPY's rows/s.
2. API ingest: with a stock flow to a sandbox (so each batch is also queued for delivery), a few
   connections post batches of counts back to back; accepted events/s and request p99.
3. API reads: ``GET /stock``, ``/stock?sku=``, ``/flows`` and ``/runs`` in turn, open loop at a fixed
   rate (500/s), latency from each request's due time. DESIGN §8: p99 ≤ 25 ms at 500 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from app.settings import Settings
from bench.inventory import wire
from bench.stack import (
    ROOT,
    Api,
    Goal,
    Stack,
    api_client,
    make_tenant,
    process_env,
    row,
    running_stack,
    services,
    summary_ms,
    verdict,
    write_results,
)
from connectors.sandboxes.rest import synthetic_sku

GOAL_READ_RATE = 500
GOAL_READ_P99_MS = 25
GOAL_COPY_RATIO = 0.3
GOAL_INGEST_RATE = 1_000
"""Events/s the inventory figure of DESIGN §8 asks the whole path to carry; the API alone must carry it."""
COPY_TABLE = "bench_copy_stock_levels"
STOCK_COLUMNS = (
    "tenant_id",
    "sku",
    "location",
    "on_hand",
    "reserved",
    "safety_stock",
    "source_version",
    "updated_at",
)


@dataclass(frozen=True)
class Plan:
    copy_rows: int
    copy_batch: int
    ingest_seconds: float
    ingest_connections: int
    ingest_batch: int
    ingest_skus: int
    read_rate: int
    read_seconds: float
    read_connections: int
    workers: int


def plan(quick: bool, workers: int = 0) -> Plan:
    return Plan(
        copy_rows=10_000 if quick else 100_000,
        copy_batch=5_000,
        ingest_seconds=5 if quick else 30,
        ingest_connections=4,
        ingest_batch=100,
        ingest_skus=5_000,
        read_rate=GOAL_READ_RATE,
        read_seconds=5 if quick else 60,
        read_connections=32,
        workers=workers,
    )


# -- phase 1: our ingest path against COPY ----------------------------------------------------------


def stock_counts(count: int) -> list[dict[str, Any]]:
    return [
        {
            "sku": synthetic_sku(n),
            "location": "WH1",
            "on_hand": n % 997,
            "source": "bench-erp",
            "source_id": f"{synthetic_sku(n)}@WH1",
            "source_version": 1,
        }
        for n in range(1, count + 1)
    ]


async def ingest_rows(client: httpx.AsyncClient, items: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """The items through ``POST /events/inventory``, one batch after another."""
    latencies: list[float] = []
    accepted = 0
    began = time.perf_counter()
    for start in range(0, len(items), batch):
        sent = time.perf_counter()
        response = await client.post("/api/v1/events/inventory", json={"items": items[start : start + batch]})
        latencies.append(time.perf_counter() - sent)
        if response.status_code != 202:
            raise RuntimeError(f"ingest: {response.status_code} {response.text[:300]}")
        accepted += response.json()["accepted"]
    seconds = time.perf_counter() - began
    if accepted != len(items):
        raise RuntimeError(f"ingest accepted {accepted:,} of {len(items):,} rows")
    return {
        "rows": accepted,
        "seconds": round(seconds, 3),
        "rows_per_s": round(accepted / seconds, 1),
        "request_latency": summary_ms(latencies),
    }


async def copy_rows(settings: Settings, tenant_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The same rows as ``stock_levels`` holds them, ``COPY``'d into a table of the same shape, indexes and
    defaults (as the owner: COPY is the floor any insert path is measured against)."""
    import asyncpg

    from app.database.engine import async_url

    url = async_url(settings.database_url or "").replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        await connection.execute(f"CREATE TABLE {COPY_TABLE} (LIKE stock_levels INCLUDING ALL)")
        now = datetime.now(UTC)
        tenant = uuid.UUID(tenant_id)
        records = [
            (tenant, i["sku"], i["location"], i["on_hand"], 0, 0, i["source_version"], now) for i in items
        ]
        began = time.perf_counter()
        async with connection.transaction():
            await connection.copy_records_to_table(COPY_TABLE, records=records, columns=STOCK_COLUMNS)
        seconds = time.perf_counter() - began
        stored = await connection.fetchval(f"SELECT count(*) FROM {COPY_TABLE}")  # noqa: S608 - constant
        await connection.execute(f"DROP TABLE {COPY_TABLE}")
    finally:
        await connection.close()
    return {"rows": stored, "seconds": round(seconds, 3), "rows_per_s": round(stored / seconds, 1)}


# -- phases 2 and 3: load from its own process ------------------------------------------------------


async def generate_load(stack: Stack, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``python -m bench.load`` with ``spec`` and return what it measured."""
    spec_path = stack.log_dir / f"{name}.spec.json"
    out_path = stack.log_dir / f"{name}.out.json"
    spec_path.write_text(json.dumps(spec))
    out_path.unlink(missing_ok=True)
    with (stack.log_dir / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load",
            str(spec_path),
            str(out_path),
            cwd=ROOT,
            env=process_env(stack.settings),
            stdout=log,
            stderr=log,
        )
        code = await process.wait()
    stack.check_alive()
    if code != 0:
        tail = (stack.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the load generator exited with {code}:\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


async def ingest_load(stack: Stack, key: str, plan: Plan) -> dict[str, Any]:
    spec = {
        "mode": "closed",
        "api": stack.api,
        "key": key,
        "path": "/api/v1/events/inventory",
        "seconds": plan.ingest_seconds,
        "connections": plan.ingest_connections,
        "batch": plan.ingest_batch,
        "skus": plan.ingest_skus,
        "sku_prefix": "API-",
    }
    measured = await generate_load(stack, "load-ingest", spec)
    records = measured["records"]
    answered = [latency for latency, status, _ in records if status == 202]
    accepted = sum(count for _, _, count in records)
    return {
        "seconds": round(measured["seconds"], 2),
        "connections": plan.ingest_connections,
        "batch": plan.ingest_batch,
        "requests": len(records),
        "failed_requests": sum(status != 202 for _, status, _ in records),
        "accepted": accepted,
        "accepted_events_per_s": round(accepted / measured["seconds"], 1),
        "request_latency": summary_ms(answered),
    }


def read_paths(skus: int) -> list[str]:
    """What a dashboard or a channel polls: a page of stock, one SKU's stock, the flows, the runs."""
    return [
        "/api/v1/stock?limit=50",
        f"/api/v1/stock?sku={synthetic_sku(skus // 2)}",
        "/api/v1/flows",
        "/api/v1/runs?limit=50",
    ]


async def read_load(stack: Stack, key: str, plan: Plan) -> dict[str, Any]:
    paths = read_paths(plan.copy_rows)
    spec = {
        "mode": "open",
        "api": stack.api,
        "key": key,
        "paths": paths,
        "rate": plan.read_rate,
        "seconds": plan.read_seconds,
        "warmup_seconds": 1,
        "drain_seconds": 10,
        "connections": plan.read_connections,
    }
    measured = await generate_load(stack, "load-reads", spec)
    records = measured["records"]
    # every request counts, answered or not: a given-up one with the time it had waited (a lower bound)
    latencies = [latency for _, _, latency, _ in records]
    unanswered = measured["unanswered"]
    return {
        "offered_per_s": plan.read_rate,
        "seconds": plan.read_seconds,
        "connections": plan.read_connections,
        "requests": len(records),
        "unanswered": unanswered,
        "failed_requests": sum(status != 200 for _, _, _, status in records),
        "statuses": sorted({status for _, _, _, status in records}),
        "answered_per_s": round(
            sum(status == 200 for *_, status in records) / max(measured["answering_seconds"], 1e-9), 1
        ),
        "latency": summary_ms(latencies),
        "by_path": {
            path: summary_ms([latency for index, _, latency, _ in records if index == n])
            for n, path in enumerate(paths)
        },
    }


async def run(settings: Settings, plan: Plan, profile: str | None, quick: bool) -> dict[str, Any]:
    key = await make_tenant(settings, "bench-api")
    async with running_stack(settings, sandboxes={"shop": 0}, workers=plan.workers, profile=profile) as stack:
        async with api_client(stack, key, connections=4) as client:
            items = stock_counts(plan.copy_rows)
            tenant = await Api(client).call("GET", "/tenant", expect=200)
            copied = await copy_rows(settings, tenant["id"], items)
            ingested = await ingest_rows(client, items, plan.copy_batch)
            flow = await wire(stack, Api(client))
            for _ in range(3):  # runs for /runs to list (queued: no worker takes them unless asked)
                await Api(client).call("POST", f"/flows/{flow['id']}/runs", {"kind": "full"}, expect=202)
            ingest = await ingest_load(stack, key, plan)
            reads = await read_load(stack, key, plan)
        stack.stop()
        profiles = stack.profiles()
    return {
        "benchmark": "api: ingest, reads under load, ingest against COPY",
        "quick": quick,
        "plan": asdict(plan),
        "ingest_vs_copy": {
            "ingest": ingested,
            "copy": copied,
            "ratio": round(ingested["rows_per_s"] / copied["rows_per_s"], 3),
        },
        "ingest": ingest,
        "reads": reads,
        "goal": {
            "read_rate": GOAL_READ_RATE,
            "read_p99_ms": GOAL_READ_P99_MS,
            "ingest_vs_copy": GOAL_COPY_RATIO,
            "ingest_events_per_s": GOAL_INGEST_RATE,
        },
        "profiles": profiles,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def report(figures: dict[str, Any]) -> None:
    compared, ingest, reads = figures["ingest_vs_copy"], figures["ingest"], figures["reads"]
    plan = figures["plan"]
    print(
        f"api: {plan['copy_rows']:,} stock rows ingest vs COPY; ingest on {ingest['connections']}"
        f" connections, batches of {ingest['batch']}; reads open loop at {reads['offered_per_s']}/s for"
        f" {reads['seconds']:g} s on up to {reads['connections']} connections; {plan['workers']} worker(s)"
    )
    row("figure", "measured", "goal")
    ratio = compared["ratio"]
    row("ingest path rows/s", f"{compared['ingest']['rows_per_s']:,.0f}")
    row("COPY rows/s (same rows, same database)", f"{compared['copy']['rows_per_s']:,.0f}")
    row("ingest / COPY", f"{ratio:.3f}", f"≥ {GOAL_COPY_RATIO}: {verdict(ratio >= GOAL_COPY_RATIO)}")
    rate = ingest["accepted_events_per_s"]
    row(
        "API ingest accepted events/s",
        f"{rate:,.0f}",
        f"≥ {GOAL_INGEST_RATE:,}/s: {verdict(rate >= GOAL_INGEST_RATE)}",
    )
    row("  request latency p50/p95/p99 ms", _triple(ingest["request_latency"]))
    row("  requests / failed", f"{ingest['requests']:,} / {ingest['failed_requests']:,}")
    p99 = reads["latency"].get("p99_ms", float("nan"))
    is_met = _reads_met(reads)
    row(
        f"API reads p50/p95/p99 ms at {reads['offered_per_s']}/s",
        _triple(reads["latency"]),
        f"p99 ≤ {GOAL_READ_P99_MS} ms at {GOAL_READ_RATE}/s: {verdict(is_met)}",
    )
    row("  answered/s", f"{reads['answered_per_s']:,.0f}")
    row(
        "  requests / failed (unanswered)",
        f"{reads['requests']:,} / {reads['failed_requests']:,} ({reads['unanswered']:,})",
    )
    for path, summary in reads["by_path"].items():
        row(f"  {path[7:]} p50/p99 ms", f"{summary.get('p50_ms', 0):,.1f} / {summary.get('p99_ms', 0):,.1f}")
    if p99 != p99:
        print("  no read was answered")


def _reads_met(reads: dict[str, Any]) -> bool:
    p99 = reads["latency"].get("p99_ms", float("inf"))
    return bool(
        reads["offered_per_s"] >= GOAL_READ_RATE and reads["failed_requests"] == 0 and p99 <= GOAL_READ_P99_MS
    )


def _triple(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "—"
    return f"{summary['p50_ms']:,.1f} / {summary['p95_ms']:,.1f} / {summary['p99_ms']:,.1f}"


def goals(figures: dict[str, Any]) -> list[Goal]:
    """The DESIGN §8 lines this benchmark measures."""
    compared, ingest, reads = figures["ingest_vs_copy"], figures["ingest"], figures["reads"]
    ratio, rate = compared["ratio"], ingest["accepted_events_per_s"]
    return [
        Goal(
            "API reads p99 at 500 requests/s",
            f"{reads['latency'].get('p99_ms', float('nan')):,.1f} ms ({reads['failed_requests']} failed)",
            f"≤ {GOAL_READ_P99_MS} ms",
            _reads_met(reads),
        ),
        Goal(
            "API ingest accepted events/s (request p99)",
            f"{rate:,.0f} ({ingest['request_latency'].get('p99_ms', float('nan')):,.0f} ms)",
            f"≥ {GOAL_INGEST_RATE:,}/s",
            rate >= GOAL_INGEST_RATE,
        ),
        Goal(
            "ingest rows/s / COPY rows/s",
            f"{ratio:.2f} ({compared['ingest']['rows_per_s']:,.0f} / {compared['copy']['rows_per_s']:,.0f})",
            f"≥ {GOAL_COPY_RATIO}",
            ratio >= GOAL_COPY_RATIO,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 5 s of ingest, 5 s of reads")
    parser.add_argument("--workers", type=int, default=0, help="workers delivering while the API is loaded")
    parser.add_argument("--profile", help="run one process under cProfile: web, worker-1, …")
    args = parser.parse_args()
    with services("api") as settings:
        figures = asyncio.run(run(settings, plan(args.quick, args.workers), args.profile, args.quick))
    report(figures)
    for name, text in figures["profiles"].items():
        print(f"\ncProfile of {name}:\n{text}")
    print(f"written to {write_results('api', figures)}")


if __name__ == "__main__":
    main()
