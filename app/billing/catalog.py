"""What the platform bills partners for: each billable usage kind, its Stripe meter and its unit price.

Only kinds that add up (sums) are billed by meter events; a period maximum such as
``active_connections`` is not a sum and is not listed here. Adding a billable sum kind is one line.
"""

from __future__ import annotations

from typing import NamedTuple

CURRENCY = "usd"


class BillableMeter(NamedTuple):
    event_name: str
    """The Stripe meter's ``event_name`` (unique among the Stripe account's active meters)."""
    display_name: str
    unit_amount_decimal: str
    """Price per unit in cents, as Stripe's ``unit_amount_decimal`` (fractions of a cent allowed)."""


BILLABLE_METERS: dict[str, BillableMeter] = {
    "records_synced": BillableMeter("shelfsync_records_synced", "Records synced", "0.05"),
    "events_accepted": BillableMeter("shelfsync_events_accepted", "Events accepted", "0.02"),
    "delivery_runs": BillableMeter("shelfsync_delivery_runs", "Delivery runs", "0.1"),
    "api_calls": BillableMeter("shelfsync_api_calls", "API calls", "0.01"),
}
