"""Pricing usage by a rate card: units beyond the included ones are charged tier by tier (graduated:
each tier prices only the units inside it), amounts rounded to the currency's minor unit per line."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from app.plans.terms import MeterRate, RateCard
from connectors.canonical.currencies import MINOR_UNITS


@dataclass(frozen=True)
class TierCharge:
    units: int
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoiceLine:
    kind: str
    """``base_fee``, a meter name, or ``sla_credit``."""
    description: str
    quantity: int
    included: int
    billable: int
    amount: Decimal
    tiers: list[TierCharge] = field(default_factory=list)


@dataclass(frozen=True)
class PricedUsage:
    currency: str
    lines: list[InvoiceLine]
    subtotal: Decimal
    credit: Decimal
    total: Decimal


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2)), ROUND_HALF_UP)


def charge_meter(rate: MeterRate, quantity: int, currency: str) -> InvoiceLine:
    billable = max(quantity - rate.included, 0)
    charges: list[TierCharge] = []
    below = 0
    for tier in rate.tiers:
        top = billable if tier.up_to is None else min(tier.up_to, billable)
        units = max(top - below, 0)
        if units:
            charges.append(TierCharge(units, tier.unit_price, rounded(units * tier.unit_price, currency)))
        if tier.up_to is None or tier.up_to >= billable:
            break
        below = tier.up_to
    amount = sum((c.amount for c in charges), Decimal(0))
    return InvoiceLine(
        rate.meter, rate.meter.replace("_", " "), quantity, rate.included, billable, amount, charges
    )


def price_usage(card: RateCard, usage: dict[str, int], credit_percent: float) -> PricedUsage:
    """The base fee, a line per priced meter, and the SLA credit as a negative line."""
    currency = card.currency
    lines = [InvoiceLine("base_fee", "base fee", 1, 0, 1, rounded(card.base_fee, currency))]
    lines += [charge_meter(rate, usage.get(rate.meter, 0), currency) for rate in card.meters]
    subtotal = sum((line.amount for line in lines), Decimal(0))
    credit = rounded(subtotal * Decimal(str(credit_percent)) / 100, currency)
    if credit:
        lines.append(InvoiceLine("sla_credit", f"SLA credit {credit_percent:g} %", 1, 0, 1, -credit))
    return PricedUsage(currency, lines, subtotal, credit, subtotal - credit)
