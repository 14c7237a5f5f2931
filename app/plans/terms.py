"""A plan's terms as typed values: SLA objectives and a rate card (included units, tiers, per-unit
prices, SLA credits), validated with a path and a reason for every problem, and the defaults a
partner starts from."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

import msgspec

from app.metering.service import KINDS
from connectors.canonical.currencies import is_currency

ObjectiveKey = Literal["inventory_latency_p95_s", "success_rate", "promotions_on_time"]

OBJECTIVES: dict[str, tuple[str, str, str]] = {
    "inventory_latency_p95_s": ("Inventory updates, 95th percentile", "s", "at_most"),
    "success_rate": ("Records delivered", "%", "at_least"),
    "promotions_on_time": ("Promotion deployments on time", "%", "at_least"),
}
"""Key → (label, unit, direction): ``at_most`` targets are breached above, ``at_least`` below."""


class SlaObjective(msgspec.Struct, forbid_unknown_fields=True):
    key: ObjectiveKey
    target: float
    """Seconds for the latency; a percentage (0–100) for the rates."""
    credit_percent: float = 0.0
    """Credited on the period's invoice (percent of its charges) when the objective is missed."""
    within_seconds: float = 60.0
    """For ``promotions_on_time``: a deployment is on time when live this soon after the window opens."""


class Tier(msgspec.Struct, forbid_unknown_fields=True):
    up_to: int | None
    """The last billable unit this price applies to; null for every unit beyond the tiers before."""
    unit_price: Decimal


class MeterRate(msgspec.Struct, forbid_unknown_fields=True):
    meter: str
    included: int = 0
    """Units included in the base fee; billing starts after them."""
    tiers: list[Tier] = msgspec.field(default_factory=list)


class RateCard(msgspec.Struct, forbid_unknown_fields=True):
    currency: str = "EUR"
    base_fee: Decimal = Decimal("0")
    meters: list[MeterRate] = msgspec.field(default_factory=list)
    credit_cap_percent: float = 100.0
    """SLA credits of a period never exceed this share of its charges."""


class Quota(msgspec.Struct, forbid_unknown_fields=True):
    """A count's limits: at ``soft`` the retailer is warned (a portal banner, a note to the partner), at
    ``hard`` new work is refused (``quota-exceeded``). Null means no such limit."""

    soft: int | None = None
    hard: int | None = None


class Quotas(msgspec.Struct, forbid_unknown_fields=True):
    """What a retailer on the plan may use: the partner sets them per plan, and picks each retailer's."""

    api_requests_per_second: float = 1000.0
    """Each API key's sustained rate (a token bucket shared by every web process)."""
    api_burst: int = 2000
    """Requests a key may send at once before the rate applies."""
    connections: Quota = msgspec.field(default_factory=lambda: Quota(soft=40, hard=50))
    events_per_month: Quota = msgspec.field(default_factory=lambda: Quota(soft=40_000_000, hard=50_000_000))
    """Events accepted through the API and webhooks in a calendar month (UTC)."""
    concurrency: int = 4
    """Jobs of the retailer that run at once on the shared workers, per lane (urgent, bulk)."""


DEFAULT_RETENTION_DAYS = 400
"""How long a plan keeps a retailer's history (events, movements, runs, usage events) unless it says:
a year and a month, so last year's same month can still be compared."""


class PlanTerms(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    objectives: list[SlaObjective] = msgspec.field(default_factory=list)
    rate_card: RateCard = msgspec.field(default_factory=RateCard)
    quotas: Quotas = msgspec.field(default_factory=Quotas)
    retention_days: int = DEFAULT_RETENTION_DAYS
    """Days a retailer's history is kept; older rows are deleted daily (usage first rolled up into
    monthly totals, so invoices and usage figures stay)."""


DEFAULT_TERMS = PlanTerms(
    name="Standard",
    objectives=[
        SlaObjective("inventory_latency_p95_s", 60.0, 5.0),
        SlaObjective("success_rate", 99.5, 5.0),
        SlaObjective("promotions_on_time", 99.9, 10.0, within_seconds=60.0),
    ],
    rate_card=RateCard(
        currency="EUR",
        base_fee=Decimal("49.00"),
        meters=[
            MeterRate(
                "records_synced",
                100_000,
                [Tier(1_000_000, Decimal("0.0005")), Tier(None, Decimal("0.0002"))],
            ),
            MeterRate("api_calls", 100_000, [Tier(None, Decimal("0.0001"))]),
            MeterRate("active_connections", 3, [Tier(None, Decimal("15.00"))]),
        ],
    ),
)
"""The terms of a plan key no partner has defined (every retailer starts on ``standard``)."""


class TermsError(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['path']}: {e['reason']}" for e in errors))
        self.errors = errors


def parse_terms(raw: Any) -> PlanTerms:
    """Typed terms from JSON-like input; ``TermsError`` lists every problem found (path and reason)."""
    try:
        terms = msgspec.convert(raw, PlanTerms, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = text.rpartition(" - at `")[2].rstrip("`").removeprefix("$.").removeprefix("$") or "$"
        raise TermsError([{"path": path, "reason": text.partition(" - at `")[0]}]) from None
    problems = terms_problems(terms)
    if problems:
        raise TermsError(problems)
    return terms


def terms_problems(terms: PlanTerms) -> list[dict[str, str]]:
    """Rules the types cannot say: names, ranges, tier order, one entry per objective and meter."""
    problems: list[dict[str, str]] = []

    def problem(path: str, reason: str) -> None:
        problems.append({"path": path, "reason": reason})

    if not terms.name.strip():
        problem("name", "give the plan a name")
    if terms.retention_days <= 0:
        problem("retention_days", "a number of days above 0")
    seen: set[str] = set()
    for n, objective in enumerate(terms.objectives):
        at = f"objectives[{n}]"
        if objective.key in seen:
            problem(f"{at}.key", "each objective once")
        seen.add(objective.key)
        unit = OBJECTIVES[objective.key][1]
        if unit == "%" and not 0 < objective.target <= 100:
            problem(f"{at}.target", "a percentage above 0 and at most 100")
        if unit == "s" and objective.target <= 0:
            problem(f"{at}.target", "a number of seconds above 0")
        if not 0 <= objective.credit_percent <= 100:
            problem(f"{at}.credit_percent", "between 0 and 100")
        if objective.within_seconds <= 0:
            problem(f"{at}.within_seconds", "a number of seconds above 0")
    quota_problems(terms.quotas, problem)
    card = terms.rate_card
    if not is_currency(card.currency):
        problem("rate_card.currency", "an ISO 4217 code such as EUR")
    if card.base_fee < 0:
        problem("rate_card.base_fee", "zero or more")
    if not 0 <= card.credit_cap_percent <= 100:
        problem("rate_card.credit_cap_percent", "between 0 and 100")
    meters: set[str] = set()
    for n, rate in enumerate(card.meters):
        at = f"rate_card.meters[{n}]"
        if rate.meter not in KINDS:
            problem(f"{at}.meter", f"one of {', '.join(KINDS)}")
        elif rate.meter in meters:
            problem(f"{at}.meter", "each meter once")
        meters.add(rate.meter)
        if rate.included < 0:
            problem(f"{at}.included", "zero or more")
        last = 0
        for t, tier in enumerate(rate.tiers):
            where = f"{at}.tiers[{t}]"
            if tier.unit_price < 0:
                problem(f"{where}.unit_price", "zero or more")
            if tier.up_to is None:
                if t != len(rate.tiers) - 1:
                    problem(f"{where}.up_to", "only the last tier is open-ended")
            elif tier.up_to <= last:
                problem(f"{where}.up_to", "tiers rise: above the tier before")
            else:
                last = tier.up_to
    return problems


def quota_problems(quotas: Quotas, problem: Callable[[str, str], None]) -> None:
    if not quotas.api_requests_per_second > 0:
        problem("quotas.api_requests_per_second", "a rate above 0")
    if quotas.api_burst < 1:
        problem("quotas.api_burst", "at least 1")
    if not 1 <= quotas.concurrency <= 100:
        problem("quotas.concurrency", "between 1 and 100")
    for name in ("connections", "events_per_month"):
        quota: Quota = getattr(quotas, name)
        for level in ("soft", "hard"):
            value = getattr(quota, level)
            if value is not None and value < 1:
                problem(f"quotas.{name}.{level}", "at least 1, or null for no limit")
        if quota.soft is not None and quota.hard is not None and quota.soft > quota.hard:
            problem(f"quotas.{name}.soft", "at most the hard limit")


def objective_of(terms: PlanTerms, key: str) -> SlaObjective | None:
    return next((o for o in terms.objectives if o.key == key), None)
