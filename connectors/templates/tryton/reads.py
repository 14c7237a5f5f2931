"""Reading items, prices, stock and sales from Tryton as pages of plain payloads, full or incremental."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.sdk.results import ReadPage
from connectors.templates.tryton.cursor import ChangeCursor, latest
from connectors.templates.tryton.rpc import TrytonRpc
from connectors.templates.tryton.site import TrytonSite

Row = dict[str, Any]
PRODUCT_FIELDS = [
    "code", "name", "description", "active", "default_uom.symbol", "template",
    "template.list_price", "template.salable", "template.type",
    "create_date", "write_date", "template.create_date", "template.write_date",
]  # fmt: skip
SALE_FIELDS = [
    "number", "reference", "state", "sale_date", "description", "party", "party.name", "party.code",
    "currency.code", "untaxed_amount", "tax_amount", "total_amount", "lines", "warehouse.code",
    "create_date", "write_date",
]  # fmt: skip
LINE_FIELDS = ["sale", "type", "product.code", "quantity", "unit_price", "amount", "description"]


def plain(value: Any) -> Any:
    """Payload values as JSON keeps them: Decimal as a string (never a float), dates in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def stamp(row: Row) -> datetime | None:
    """When a record last changed: Tryton leaves ``write_date`` empty until the first write."""
    changed = row.get("write_date") or row.get("create_date")
    return changed if isinstance(changed, datetime) else None


def product_stamp(row: Row) -> datetime | None:
    return latest(stamp(row), stamp(row.get("template.") or {}))


def version_of(changed: datetime | None) -> int | None:
    """``source_version`` in epoch microseconds."""
    return None if changed is None else int(changed.timestamp() * 1_000_000)


def changed_since(since: datetime, prefixes: tuple[str, ...] = ("",)) -> list[Any]:
    clauses: list[Any] = ["OR"]
    for prefix in prefixes:
        clauses += [(f"{prefix}write_date", ">", since), (f"{prefix}create_date", ">", since)]
    return clauses


async def change_pass(
    rpc: TrytonRpc,
    model: str,
    domain: list[Any],
    fields: list[str],
    context: dict[str, Any],
    cursor: ChangeCursor,
    page_size: int,
    stamp_of: Callable[[Row], datetime | None],
) -> AsyncIterator[tuple[list[Row], ChangeCursor]]:
    """Rows matching ``domain`` in id order after ``cursor.after``, a page at a time with the cursor."""
    while True:
        # One more than a page tells whether another page follows without an extra call.
        rows: list[Row] = await rpc.model(
            model, "search_read", [*domain, ("id", ">", cursor.after)], 0, page_size + 1, [("id", "ASC")],
            fields, context,
        )  # fmt: skip
        page, more = rows[:page_size], len(rows) > page_size
        for row in page:
            cursor = cursor.seen(stamp_of(row))
        if page:
            cursor = cursor.advanced(page[-1]["id"])
        yield page, cursor if more else cursor.finished()
        if not more:
            return


def item_payload(row: Row, site: TrytonSite) -> Row:
    template = row.get("template.") or {}
    changed = product_stamp(row)
    return {
        "id": row["id"],
        "template_id": row["template"],
        "code": row.get("code"),
        "name": row.get("name"),
        "description": row.get("description"),
        "active": row.get("active", True),
        "salable": template.get("salable", False),
        "type": template.get("type"),
        "uom": (row.get("default_uom.") or {}).get("symbol"),
        "list_price": plain(template.get("list_price")),
        "currency": site.currency_code,
        "changed_at": plain(changed),
        "source_version": version_of(changed),
    }


def price_payload(row: Row, site: TrytonSite) -> Row:
    item = item_payload(row, site)
    keys = ("id", "template_id", "code", "list_price", "currency", "changed_at", "source_version")
    return {key: item[key] for key in keys}


async def read_products(
    rpc: TrytonRpc,
    site: TrytonSite,
    cursor: ChangeCursor,
    page_size: int,
    shape: Callable[[Row, TrytonSite], Row],
) -> AsyncIterator[ReadPage]:
    """Products changed since the cursor; a price change on the template counts as a change."""
    domain: list[Any] = [("code", "!=", None)]
    if cursor.since is not None:
        domain.append(changed_since(cursor.since, ("", "template.")))
    async for rows, after in change_pass(
        rpc, "product.product", domain, PRODUCT_FIELDS, site.context, cursor, page_size, product_stamp
    ):
        yield ReadPage([shape(row, site) for row in rows], after.dump())


async def _latest_move(rpc: TrytonRpc, site: TrytonSite, domain: list[Any]) -> datetime | None:
    found: datetime | None = None
    for column in ("write_date", "create_date"):
        rows = await rpc.model(
            "stock.move", "search_read", domain, 0, 1, [(column, "DESC NULLS LAST")],
            ["write_date", "create_date"], site.context,
        )  # fmt: skip
        found = latest(found, *(stamp(row) for row in rows))
    return found


async def read_inventory(
    rpc: TrytonRpc, site: TrytonSite, cursor: ChangeCursor, page_size: int
) -> AsyncIterator[ReadPage]:
    """Quantity on hand per product at the warehouse's storage zone.

    Stock changes do not touch the product, so an incremental read looks for stock moves into or out of
    the storage zone changed since the cursor, and reads the quantities of their products.
    """
    moves: list[Any] = [
        "OR",
        ("from_location", "child_of", [site.storage_id], "parent"),
        ("to_location", "child_of", [site.storage_id], "parent"),
    ]
    domain: list[Any] = [("code", "!=", None), ("template.type", "=", "goods")]
    if cursor.since is None:
        cursor = cursor.seen(await _latest_move(rpc, site, [moves]))
    else:
        changed = await rpc.model(
            "stock.move", "search_read", [moves, changed_since(cursor.since)], 0, None, None,
            ["product", "write_date", "create_date"], site.context,
        )  # fmt: skip
        for move in changed:
            cursor = cursor.seen(stamp(move))
        domain.append(("id", "in", sorted({move["product"] for move in changed})))
    async for rows, after in change_pass(
        rpc, "product.product", domain, ["code", "quantity", "forecast_quantity"], site.stock_context,
        cursor, page_size, lambda row: None,
    ):  # fmt: skip
        records = [
            {
                "id": row["id"],
                "code": row["code"],
                "location": site.warehouse_code,
                "quantity": row["quantity"],
                "forecast_quantity": row["forecast_quantity"],
            }
            for row in rows
        ]
        yield ReadPage(records, after.dump())


def sale_payload(row: Row, lines: list[Row]) -> Row:
    changed = stamp(row)
    party = row.get("party.") or {}
    return {
        "id": row["id"],
        "number": row.get("number"),
        "reference": row.get("reference"),
        "state": row.get("state"),
        "sale_date": plain(row.get("sale_date")),
        "description": row.get("description"),
        "party": {"id": row.get("party"), "name": party.get("name"), "code": party.get("code")},
        "currency": (row.get("currency.") or {}).get("code"),
        "warehouse": (row.get("warehouse.") or {}).get("code"),
        "untaxed_amount": plain(row.get("untaxed_amount")),
        "tax_amount": plain(row.get("tax_amount")),
        "total_amount": plain(row.get("total_amount")),
        "lines": [
            {
                "code": (line.get("product.") or {}).get("code"),
                "description": line.get("description"),
                "quantity": line.get("quantity"),
                "unit_price": plain(line.get("unit_price")),
                "amount": plain(line.get("amount")),
            }
            for line in lines
            if line.get("type") == "line"
        ],
        "changed_at": plain(changed),
        "source_version": version_of(changed),
    }


async def read_sales(
    rpc: TrytonRpc, site: TrytonSite, cursor: ChangeCursor, page_size: int
) -> AsyncIterator[ReadPage]:
    """Sales of the company with their lines (one extra call per page for all lines)."""
    domain: list[Any] = [("company", "=", site.company_id)]
    if cursor.since is not None:
        domain.append(changed_since(cursor.since))
    async for rows, after in change_pass(
        rpc, "sale.sale", domain, SALE_FIELDS, site.context, cursor, page_size, stamp
    ):
        line_ids = [line_id for row in rows for line_id in row.get("lines") or []]
        lines: list[Row] = (
            await rpc.model("sale.line", "read", line_ids, LINE_FIELDS, site.context) if line_ids else []
        )
        by_sale: dict[int, list[Row]] = {}
        for line in sorted(lines, key=lambda line: line["id"]):
            by_sale.setdefault(line["sale"], []).append(line)
        yield ReadPage([sale_payload(row, by_sale.get(row["id"], [])) for row in rows], after.dump())
