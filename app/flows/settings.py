"""A flow's tunables and a destination's stock allocation, validated where they come in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import msgspec


class FlowSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    low_stock_threshold: Annotated[int, msgspec.Meta(ge=0)] = 5
    """Stock at or below this (or zero) is pushed at once instead of waiting for the batch window."""
    batch_window_seconds: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 5.0
    """Changes to one SKU within this window are coalesced into one write with the latest value."""
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=50)] = 8
    """Delivery attempts before a dead letter."""
    price_floor: Decimal | None = None
    """Prices below this amount are refused (in the price's own currency)."""
    min_margin_percent: Decimal | None = None
    """Prices whose margin over the item's unit cost (same currency) is below this are refused."""
    reconcile_schedule: str | None = None
    """A cron expression (UTC): when to read the destinations back, report drift and correct it."""

    def __post_init__(self) -> None:
        if self.reconcile_schedule is not None:
            from cronsim import CronSim, CronSimError

            try:
                CronSim(self.reconcile_schedule, datetime.now(UTC))
            except (CronSimError, ValueError) as error:
                raise ValueError(f"reconcile_schedule: not a cron expression: {error}") from None


class Allocation(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """How much of the stock a destination may sell: the locations that feed it, a safety stock held back
    from it, and its share of what is left."""

    locations: list[str] = msgspec.field(default_factory=list)
    """Empty: every location."""
    safety_stock: Annotated[int, msgspec.Meta(ge=0)] = 0
    share: Decimal = Decimal(1)
    location_code: str = "web"
    """The location name the destination's payloads carry (the channel's own stock location)."""

    def __post_init__(self) -> None:
        if not self.share.is_finite() or not 0 <= self.share <= 1:
            raise ValueError(f"share: must be between 0 and 1, got {self.share}")

    def channel_available(self, available_by_location: dict[str, int]) -> int:
        """What this destination may show as available for a SKU."""
        feeding = self.locations or list(available_by_location)
        pooled = sum(available_by_location.get(location, 0) for location in feeding)
        return max(int(pooled * self.share) - self.safety_stock, 0)
