"""Run metrics a worker records as runs finish: runs by domain, kind and status, and how long they
took (wall time of the work, not of the wait in the queue). Labels are bounded sets, never an id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS_FINISHED = Counter("shelfsync_runs_finished", "Runs finished by a worker", ["domain", "kind", "status"])
RUN_DURATION = Histogram(
    "shelfsync_run_duration_seconds",
    "How long a run's work took",
    ["domain"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)


def record_run(domain: str, kind: str, status: str, seconds: float) -> None:
    """Count a finished run (once it is stored)."""
    RUNS_FINISHED.labels(domain, kind, status).inc()
    RUN_DURATION.labels(domain).observe(max(seconds, 0.0))
