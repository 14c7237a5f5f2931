"""``/api/v1/stock``: the tenant's canonical stock balances, per SKU and location."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.pagination import DEFAULT_LIMIT, Page, keyset_page
from app.inventory.models import StockLevel
from tenants.api_keys import ApiPrincipal


class StockView(msgspec.Struct):
    """One SKU at one location; ``available`` = on_hand − reserved − safety_stock, never below 0."""

    sku: str
    location: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int
    source_version: int | None
    updated_at: datetime

    @classmethod
    def of(cls, row: StockLevel) -> StockView:
        return cls(
            row.sku,
            row.location,
            row.on_hand,
            row.reserved,
            row.safety_stock,
            row.available,
            row.source_version,
            row.updated_at,
        )


class StockController(Controller):
    path = "/stock"
    tags = ["stock"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListStock", guards=[requires_scope("stock:read")])
    async def list_stock(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        sku: str | None = None,
        location: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[StockView]:
        """The tenant's stock balances by SKU then location, optionally of one SKU or one location."""
        query = select(StockLevel).where(StockLevel.tenant_id == principal.tenant_id)
        if sku is not None:
            query = query.where(StockLevel.sku == sku)
        if location is not None:
            query = query.where(StockLevel.location == location)
        return await keyset_page(
            session, query, (StockLevel.sku, StockLevel.location), limit, cursor, StockView.of
        )
