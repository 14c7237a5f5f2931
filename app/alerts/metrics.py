"""What an alert rule can watch: each metric read off a flow's health figures (``app/flows/health.py``),
with the comparison it usually takes and the thresholds that make sense for it."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

from app.flows.health import FlowHealth
from app.flows.latency import BUCKETS

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    description: str
    comparison: str
    """The comparison a rule takes when it names none."""
    is_windowed: bool
    """Measured over the rule's window (else: the state at evaluation time)."""
    lowest: float
    highest: float | None
    measure: Callable[[FlowHealth], float | None]
    """The flow's value; None when there is nothing to measure (no traffic in the window)."""


def _success_percent(health: FlowHealth) -> float | None:
    rate = health.success_rate
    return None if rate is None else rate * 100


def _p95(health: FlowHealth) -> float | None:
    value = health.latency_ms.get("p95")
    # the overflow bucket reads as infinity; its lower edge (about 3 hours) is a figure JSON can carry
    return None if value is None else min(value, BUCKETS[-1])


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric(
            "dead_letters_open",
            "open dead letters of the flow",
            ">",
            is_windowed=False,
            lowest=0,
            highest=None,
            measure=lambda health: float(health.dead_letters_open),
        ),
        Metric(
            "success_rate",
            "percentage of records delivered in the window (no traffic: nothing to judge)",
            "<",
            is_windowed=True,
            lowest=0,
            highest=100,
            measure=_success_percent,
        ),
        Metric(
            "backlog_age_seconds",
            "seconds the oldest due change has waited for delivery (0 without a due backlog)",
            ">",
            is_windowed=False,
            lowest=0,
            highest=None,
            measure=lambda health: float(health.oldest_due_seconds or 0.0),
        ),
        Metric(
            "latency_p95_ms",
            "95th percentile of received → acknowledged over the window, in milliseconds",
            ">",
            is_windowed=True,
            lowest=0,
            highest=None,
            measure=_p95,
        ),
    )
}


def holds(comparison: str, value: float | None, threshold: float) -> bool:
    """Whether the condition holds; a metric with nothing to measure never does."""
    return value is not None and math.isfinite(value) and COMPARE[comparison](value, threshold)
