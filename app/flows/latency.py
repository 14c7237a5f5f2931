"""Delivery latency (received → acknowledged by the destination) kept as a histogram per delivery run:
small to store, exact to merge, and percentiles over any window read off the merged buckets (each
answer is the upper edge of its bucket, at most 10 % above the true value; as Prometheus does)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GROWTH = 1.1
BUCKETS: tuple[float, ...] = tuple(round(GROWTH**n, 3) for n in range(0, 170))
"""Upper edges in milliseconds: 1 ms … about 3 hours, each 10 % above the last."""
OVERFLOW = "inf"


def _bucket(value_ms: float) -> str:
    low, high = 0, len(BUCKETS)
    while low < high:  # the first edge at or above the value
        middle = (low + high) // 2
        if BUCKETS[middle] < value_ms:
            low = middle + 1
        else:
            high = middle
    return OVERFLOW if low == len(BUCKETS) else repr(BUCKETS[low])


def histogram(values_ms: Iterable[float]) -> dict[str, int]:
    """Counts per bucket edge (only the buckets used)."""
    counts: dict[str, int] = {}
    for value in values_ms:
        key = _bucket(max(value, 0.0))
        counts[key] = counts.get(key, 0) + 1
    return counts


def merge(histograms: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for one in histograms:
        for key, count in one.items():
            merged[key] = merged.get(key, 0) + int(count)
    return merged


def percentile(counts: Mapping[str, int], fraction: float) -> float | None:
    """The bucket edge at or below which ``fraction`` of the values lie; None for no values."""
    total = sum(counts.values())
    if not total:
        return None
    wanted = fraction * total
    seen = 0
    for key in sorted(counts, key=lambda k: float(k)):
        seen += counts[key]
        if seen >= wanted:
            return float(key)
    return float("inf")
