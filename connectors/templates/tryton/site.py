"""Where a Tryton connection works: its company, currency, warehouse and the locations stock moves use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.sdk.errors import PermanentError
from connectors.templates.tryton.rpc import TrytonRpc


@dataclass(frozen=True, slots=True)
class TrytonSite:
    company_id: int
    company_name: str
    currency_id: int
    currency_code: str
    warehouse_id: int
    warehouse_code: str
    storage_id: int
    supplier_id: int

    @property
    def context(self) -> dict[str, Any]:
        return {"company": self.company_id}

    @property
    def stock_context(self) -> dict[str, Any]:
        return {"company": self.company_id, "locations": [self.storage_id]}


async def resolve_site(rpc: TrytonRpc, settings: Mapping[str, Any]) -> TrytonSite:
    """Company (configured or the user's), its currency, and the warehouse by location id or code."""
    company_id = settings.get("company_id")
    if company_id is None:
        preferences = await rpc.model("res.user", "get_preferences", True, {})
        company_id = preferences.get("company")
    if not company_id:
        raise PermanentError("the Tryton user has no company: set company_id or give the user a company")
    companies = await rpc.model(
        "company.company", "search_read", [("id", "=", company_id)], 0, 1, None,
        ["rec_name", "currency", "currency.code"], {},
    )  # fmt: skip
    if not companies:
        raise PermanentError(f"Tryton has no company {company_id} this user may use")
    company = companies[0]
    context = {"company": company_id}
    if settings.get("location_id"):
        location_domain: list[Any] = [("id", "=", settings["location_id"])]
    else:
        location_domain = [("type", "=", "warehouse"), ("code", "=", settings["warehouse"])]
    locations = await rpc.model(
        "stock.location", "search_read", location_domain, 0, 1, None, ["type", "code", "storage_location"],
        context,
    )  # fmt: skip
    if not locations:
        wanted = settings.get("location_id") or settings["warehouse"]
        raise PermanentError(f"Tryton has no warehouse or location {wanted!r}")
    location = locations[0]
    if location["type"] == "storage":
        # A storage zone given by id: its warehouse is the one whose storage zone it is.
        storage_id = location["id"]
        location_domain = [("type", "=", "warehouse"), ("storage_location", "=", storage_id)]
        warehouses = await rpc.model(
            "stock.location", "search_read", location_domain, 0, 1, None, ["code"], context
        )
        if not warehouses:
            raise PermanentError(f"Tryton storage zone {storage_id} is not the storage zone of a warehouse")
        warehouse_id, warehouse_code = warehouses[0]["id"], warehouses[0]["code"]
    elif location["type"] == "warehouse":
        warehouse_id, warehouse_code, storage_id = (
            location["id"],
            location["code"],
            location["storage_location"],
        )
    else:
        raise PermanentError(f"Tryton location {location['id']} is neither a warehouse nor a storage zone")
    suppliers = await rpc.model("stock.location", "search", [("type", "=", "supplier")], 0, 1, None, context)
    if not suppliers:
        raise PermanentError("Tryton has no supplier location to receive stock from")
    return TrytonSite(
        company_id=int(company_id),
        company_name=str(company["rec_name"]),
        currency_id=int(company["currency"]),
        currency_code=str(company["currency."]["code"]),
        warehouse_id=int(warehouse_id),
        warehouse_code=str(warehouse_code),
        storage_id=int(storage_id),
        supplier_id=int(suppliers[0]),
    )
