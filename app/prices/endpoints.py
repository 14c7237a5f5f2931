"""``/api/v1/prices``: the tenant's canonical prices, optionally only those in force at a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import provide_principal, provide_tenant_session, requires_scope
from app.http.pagination import DEFAULT_LIMIT, Page, keyset_page
from app.http.problems import Problem
from app.prices.models import EVER, PriceEntry, plain
from tenants.api_keys import ApiPrincipal


class PriceView(msgspec.Struct):
    """A price; ``channel``/``region`` null means any, ``effective_from`` null means from the beginning."""

    sku: str
    price_list: str
    channel: str | None
    region: str | None
    currency: str
    amount: str
    compare_at: str | None
    effective_from: datetime | None
    effective_to: datetime | None
    source_version: int | None
    updated_at: datetime

    @classmethod
    def of(cls, row: PriceEntry) -> PriceView:
        return cls(
            row.sku,
            row.price_list,
            row.channel or None,
            row.region or None,
            row.currency,
            str(plain(row.amount)),
            None if row.compare_at is None else str(plain(row.compare_at)),
            None if row.effective_from == EVER else row.effective_from,
            row.effective_to,
            row.source_version,
            row.updated_at,
        )


class PriceController(Controller):
    path = "/prices"
    tags = ["prices"]
    dependencies = {"session": Provide(provide_tenant_session), "principal": Provide(provide_principal)}

    @get("/", operation_id="ListPrices", guards=[requires_scope("prices:read")])
    async def list_prices(
        self,
        session: AsyncSession,
        principal: ApiPrincipal,
        sku: str | None = None,
        price_list: str | None = None,
        channel: str | None = None,
        region: str | None = None,
        at: datetime | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[PriceView]:
        """The tenant's prices by SKU, price list, channel, region and start; with ``at`` (ISO 8601 with
        an offset) only those in force at that moment."""
        query = select(PriceEntry).where(PriceEntry.tenant_id == principal.tenant_id)
        for column, value in (
            (PriceEntry.sku, sku),
            (PriceEntry.price_list, price_list),
            (PriceEntry.channel, channel),
            (PriceEntry.region, region),
        ):
            if value is not None:
                query = query.where(column == value)
        if at is not None:
            if at.tzinfo is None:
                raise Problem(
                    400,
                    "at needs a UTC offset, e.g. 2026-03-01T09:00:00Z.",
                    errors=[{"path": "at", "reason": "needs a UTC offset"}],
                )
            query = query.where(
                PriceEntry.effective_from <= at,
                or_(PriceEntry.effective_to.is_(None), PriceEntry.effective_to > at),
            )
        order = (
            PriceEntry.sku,
            PriceEntry.price_list,
            PriceEntry.channel,
            PriceEntry.region,
            PriceEntry.effective_from,
        )
        return await keyset_page(session, query, order, limit, cursor, PriceView.of)
