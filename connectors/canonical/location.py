"""Locations: stores, warehouses, sales channels and regions that hold stock or scope prices."""

from __future__ import annotations

from typing import Literal

from connectors.canonical.record import Code, Record

LocationKind = Literal["store", "warehouse", "channel", "region"]


class Location(Record, kw_only=True):
    code: Code
    name: str
    kind: LocationKind
    region: str | None = None
    timezone: str | None = None
    is_active: bool = True
