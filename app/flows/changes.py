"""What a flow sends its destinations when canonical state changes: the channel's available stock per
SKU (urgent at or below the low-stock threshold), or the price itself (due at its effective time)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

from app.delivery.queue import Change
from app.flows.models import Flow, FlowDestination
from app.flows.settings import Allocation, FlowSettings
from app.prices.service import price_key
from connectors.canonical import Price, StockBalance, to_builtins


def flow_settings(flow: Flow) -> FlowSettings:
    return msgspec.convert(flow.settings or {}, FlowSettings)


def stock_changes(
    flow: Flow,
    destination: FlowDestination,
    by_sku: dict[str, dict[str, int]],
    now: datetime,
    correlation_id: str | None,
) -> list[Change]:
    settings = flow_settings(flow)
    allocation = msgspec.convert(destination.allocation or {}, Allocation)
    window = timedelta(seconds=settings.batch_window_seconds)
    found: list[Change] = []
    for sku, locations in by_sku.items():
        available = allocation.channel_available(locations)
        urgent = available <= settings.low_stock_threshold
        balance = StockBalance(sku=sku, location=allocation.location_code, on_hand=available)
        found.append(
            Change(
                entity_key=sku,
                record_type="stock_balance",
                payload=to_builtins(balance),
                due_at=now if urgent else now + window,
                is_urgent=urgent,
                correlation_id=correlation_id,
            )
        )
    return found


def price_changes(
    flow: Flow, prices: Sequence[Price], now: datetime, correlation_id: str | None
) -> list[Change]:
    """A price is due at the end of the batch window, or at its effective time when that is later."""
    window = timedelta(seconds=flow_settings(flow).batch_window_seconds)
    return [
        Change(
            entity_key=price_key(price),
            record_type="price",
            payload=to_builtins(price),
            due_at=max(now + window, price.effective_from or now),
            correlation_id=price.correlation_id or correlation_id,
        )
        for price in prices
    ]
