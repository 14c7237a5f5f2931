"""Delivery metrics a worker records as batches settle: records delivered, failed and dead-lettered,
and how long destinations take to answer. Labels are bounded sets (domain, connector kind), never an id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERED = Counter("shelfsync_records_delivered", "Records a destination took", ["domain", "connector"])
FAILED = Counter(
    "shelfsync_records_failed",
    "Records a destination refused or could not be reached for (each attempt; retried or not)",
    ["domain", "connector"],
)
DEAD_LETTERED = Counter(
    "shelfsync_records_dead_lettered", "Records given up on and left as dead letters", ["domain", "connector"]
)
DESTINATION_CALL = Histogram(
    "shelfsync_destination_call_seconds",
    "One batch write to a destination, the template's own retries included",
    ["connector"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def record_settled(domain: str, connector: str, *, delivered: int, failed: int, dead_lettered: int) -> None:
    """Count a settled batch (once its transaction committed)."""
    DELIVERED.labels(domain, connector).inc(delivered)
    FAILED.labels(domain, connector).inc(failed)
    DEAD_LETTERED.labels(domain, connector).inc(dead_lettered)
