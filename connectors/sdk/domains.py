"""What kind of system a template talks to, and which retail domains it can read or write."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    ERP = "erp"
    ECOMMERCE = "ecommerce"
    POS = "pos"
    MARKETPLACE = "marketplace"
    WMS = "wms"
    FILE = "file"
    EDI = "edi"
    WEBHOOK = "webhook"


class Domain(StrEnum):
    ITEMS = "items"
    PRICES = "prices"
    PROMOTIONS = "promotions"
    INVENTORY = "inventory"
    ORDERS = "orders"
    LOCATIONS = "locations"
