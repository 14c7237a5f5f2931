"""``python -m bench all [--quick]`` runs every benchmark, each on a fresh database of the same services,
prints one table of figures against DESIGN §8's goals and writes ``bench/results/latest.json``;
``python -m bench NAME [options]`` runs one (the same as ``python -m bench.NAME``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from app.settings import Settings
from bench import api, inventory, prices, promotion, recipes, tenants
from bench.stack import RESULTS, Goal, held_services, machine, services, write_results

Runner = Callable[[Settings, bool], dict[str, Any]]


def _api(settings: Settings, quick: bool) -> dict[str, Any]:
    return asyncio.run(api.run(settings, api.plan(quick), None, quick))


def _inventory(settings: Settings, quick: bool) -> dict[str, Any]:
    return asyncio.run(inventory.run(settings, inventory.plan(quick), None, quick))


def _prices(settings: Settings, quick: bool) -> dict[str, Any]:
    return asyncio.run(prices.run(settings, prices.plan(quick), None, quick))


def _promotion(settings: Settings, quick: bool) -> dict[str, Any]:
    figures = asyncio.run(
        promotion.run(settings, promotion.stores_for(quick), 2, None, promotion.skus_for(quick))
    )
    figures["quick"] = quick
    return figures


def _tenants(settings: Settings, quick: bool) -> dict[str, Any]:
    return asyncio.run(tenants.run(settings, tenants.plan(quick), None, quick))


BENCHMARKS: dict[str, tuple[Runner | None, Any]] = {
    "recipes": (None, recipes),
    "api": (_api, api),
    "inventory": (_inventory, inventory),
    "prices": (_prices, prices),
    "promotion": (_promotion, promotion),
    "tenants": (_tenants, tenants),
}
"""Name → how ``all`` runs it (None: needs no services) and its module (``report``, ``goals``)."""


def verdict_of(is_met: bool | None) -> str:
    if is_met is None:
        return "not judged (quick)"
    return "met" if is_met else "MISSED"


def print_table(goals: list[dict[str, Any]]) -> None:
    """figure, measured, goal, met or missed: one line per DESIGN §8 goal."""
    columns = (("figure", 54), ("measured", 40), ("goal", 34))
    print("".join(f"{title:<{width}}" for title, width in columns) + "met?")
    print("-" * (sum(width for _, width in columns) + 18))
    for goal in goals:
        cells = "".join(f"{goal[title]:<{width}}" for title, width in columns)
        print(f"{cells}{verdict_of(goal['is_met'])}")


def run_all(names: list[str], quick: bool) -> dict[str, Any]:
    """Each benchmark in turn on the same (embedded) services; a benchmark that fails is reported as
    such and the others still run."""
    began = time.perf_counter()
    figures: dict[str, Any] = {}
    goals: list[tuple[str, Goal]] = []
    failures: dict[str, str] = {}
    with held_services() as base:
        facts = machine(base)
        for name in names:
            runner, module = BENCHMARKS[name]
            print(f"\n== {name} {'(quick)' if quick else ''}", flush=True)
            started = time.perf_counter()
            try:
                if runner is None:
                    measured = module.run(quick)
                else:
                    with services(name) as settings:
                        measured = runner(settings, quick)
            except Exception:  # one broken benchmark must not hide the others' figures
                failures[name] = traceback.format_exc()
                print(f"{name} FAILED:\n{failures[name]}", flush=True)
                goals.append((name, Goal(f"{name}: the benchmark", "failed", "runs", False)))
                continue
            measured["wall_seconds"] = round(time.perf_counter() - started, 1)
            module.report(measured)
            write_results(name, measured)
            figures[name] = {k: v for k, v in measured.items() if k != "profiles"}
            goals += [(name, goal) for goal in module.goals(measured)]
            print(f"({name}: {measured['wall_seconds']:.0f} s)", flush=True)
    facts["load_average_after"] = [round(n, 2) for n in os.getloadavg()]
    return {
        "quick": quick,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "machine": facts,
        "goals": [{"benchmark": name, **asdict(goal)} for name, goal in goals],
        "figures": figures,
        "failures": failures,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in BENCHMARKS:  # one benchmark, with its own options
        module = importlib.import_module(f"bench.{argv[0]}")
        sys.argv = [f"bench.{argv[0]}", *argv[1:]]
        module.main()
        return
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=f"Run every benchmark (all) or one ({', '.join(BENCHMARKS)}; see NAME --help).",
    )
    parser.add_argument("command", choices=["all"])
    parser.add_argument("--quick", action="store_true", help="smaller loads on the same code paths")
    parser.add_argument("--only", help="a comma-separated subset, in this order")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = run_all(names, args.quick)
    facts = results["machine"]
    scope = "(quick: smaller loads; rate and size goals not judged)" if args.quick else ""
    print(
        f"\n== DESIGN §8 figures {scope}"
        f"\n{facts['cpus']} cores, load average {facts['load_average'][0]:.1f} → "
        f"{facts['load_average_after'][0]:.1f}, Python {facts['python']}, PostgreSQL {facts['postgresql']},"
        f" commit {facts['commit']}, {facts['date']}; {results['wall_seconds']:.0f} s in all\n"
    )
    print_table(results["goals"])
    path = RESULTS / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten to {path}")
    if results["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
