"""Latency histograms: percentiles read off merged buckets stay within one bucket (10 %) above the exact
nearest-rank percentile, however the values are split across runs."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from app.flows.latency import GROWTH, histogram, merge, percentile

latencies = st.lists(st.floats(min_value=0.5, max_value=5_000_000, allow_nan=False), min_size=1, max_size=300)


def exact(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


class TestLatencyHistogram:
    @given(latencies, st.integers(1, 5), st.sampled_from([0.5, 0.95, 0.99]))
    def test_percentile_within_one_bucket_of_the_exact_one(
        self, values: list[float], parts: int, q: float
    ) -> None:
        runs = [histogram(values[i::parts]) for i in range(parts)]
        found = percentile(merge(runs), q)
        truth = exact(values, q)
        assert found is not None
        assert max(truth, 1.0) <= found <= max(truth, 1.0) * GROWTH * 1.001

    def test_no_values_no_percentile(self) -> None:
        assert percentile({}, 0.5) is None
        assert histogram([]) == {}
