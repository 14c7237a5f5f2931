"""Writing prices, stock counts and sales into Tryton, one ``WriteResult`` per payload.

Records are checked and their product codes resolved first, so a malformed record or an unknown code
fails alone. Tryton rejects a whole call when one record in it is invalid, so a batch that Tryton
refuses is replayed record by record to find the one at fault.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sdk.errors import PermanentError
from connectors.sdk.results import WriteResult
from connectors.templates.tryton.rpc import TrytonRpc
from connectors.templates.tryton.site import TrytonSite

Payload = Mapping[str, Any]


class RecordError(ValueError):
    """One payload is unusable; its neighbours go ahead."""


def text_of(payload: Payload, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"{name}: a non-empty string is required")
    return value.strip()


def decimal_of(payload: Payload, name: str, *, minimum: Decimal = Decimal(0)) -> Decimal:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise RecordError(f"{name}: a number is required, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RecordError(f"{name}: not a number: {value!r}") from None
    if not number.is_finite() or number < minimum:
        raise RecordError(f"{name}: must be a finite number ≥ {minimum}, got {value!r}")
    return number


async def products_by_code(
    rpc: TrytonRpc, site: TrytonSite, codes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    if not codes:
        return {}
    rows = await rpc.model(
        "product.product", "search_read", [("code", "in", sorted(set(codes)))], 0, None, None,
        ["code", "template", "default_uom", "cost_price", "quantity"], site.stock_context,
    )  # fmt: skip
    return {row["code"]: row for row in rows}


def failure(index: int, error: Exception, key: str | None) -> WriteResult:
    message = error.message if isinstance(error, PermanentError) else str(error)
    return WriteResult.failed(index, message, key)


async def write_prices(rpc: TrytonRpc, site: TrytonSite, payloads: Sequence[Payload]) -> list[WriteResult]:
    """``{"code", "list_price", "currency"?}`` → ``product.template.list_price`` of that product."""
    results: dict[int, WriteResult] = {}
    valid: list[tuple[int, str, Decimal]] = []
    for index, payload in enumerate(payloads):
        key = payload.get("code") if isinstance(payload.get("code"), str) else None
        try:
            code = text_of(payload, "code")
            price = decimal_of(payload, "list_price")
            currency = payload.get("currency")
            if currency is not None and currency != site.currency_code:
                raise RecordError(f"currency: the company prices in {site.currency_code}, not {currency!r}")
        except RecordError as error:
            results[index] = failure(index, error, key)
            continue
        valid.append((index, code, price))
    products = await products_by_code(rpc, site, [code for _, code, _ in valid])
    writes: list[tuple[int, str, int, Decimal]] = []
    for index, code, price in valid:
        if code not in products:
            results[index] = WriteResult.failed(index, f"no Tryton product with code {code!r}", code)
        else:
            writes.append((index, code, int(products[code]["template"]), price))
    if writes:
        arguments: list[Any] = []
        for _, _, template, price in writes:
            arguments += [[template], {"list_price": price}]
        try:
            await rpc.model("product.template", "write", *arguments, site.context)
            applied = {index: None for index, *_ in writes}
        except PermanentError:
            applied = {}
        for index, code, template, price in writes:
            try:
                if index not in applied:
                    await rpc.model(
                        "product.template", "write", [template], {"list_price": price}, site.context
                    )
            except PermanentError as error:
                results[index] = failure(index, error, code)
            else:
                results[index] = WriteResult.ok(index, code, str(products[code]["id"]))
    return [results[index] for index in range(len(payloads))]


async def write_stock(rpc: TrytonRpc, site: TrytonSite, payloads: Sequence[Payload]) -> list[WriteResult]:
    """``{"code", "quantity"}``: an absolute count at the storage zone, booked as the difference.

    More stock arrives as a move from the supplier location, done at once. Less stock is booked by a
    Tryton stock inventory (count) of the storage zone: a move out of storage needs an assignment that
    Tryton does not expose over RPC, and the inventory is how Tryton itself records a count.
    """
    results: dict[int, WriteResult] = {}
    valid: list[tuple[int, str, Decimal]] = []
    for index, payload in enumerate(payloads):
        key = payload.get("code") if isinstance(payload.get("code"), str) else None
        try:
            valid.append((index, text_of(payload, "code"), decimal_of(payload, "quantity")))
        except RecordError as error:
            results[index] = failure(index, error, key)
    products = await products_by_code(rpc, site, [code for _, code, _ in valid])
    for index, code, counted in valid:
        product = products.get(code)
        if product is None:
            results[index] = WriteResult.failed(index, f"no Tryton product with code {code!r}", code)
            continue
        current = Decimal(str(product["quantity"]))
        delta = counted - current
        try:
            if delta > 0:
                await _receive(rpc, site, product, delta)
            elif delta < 0:
                await _count(rpc, site, product, counted)
        except PermanentError as error:
            results[index] = failure(index, error, code)
            continue
        # A later payload for the same code in this batch counts against the new quantity.
        product["quantity"] = float(counted)
        result = WriteResult.ok(index, code, str(product["id"]))
        result.details.update({"previous": float(current), "delta": float(delta)})
        results[index] = result
    return [results[index] for index in range(len(payloads))]


async def _receive(rpc: TrytonRpc, site: TrytonSite, product: Mapping[str, Any], delta: Decimal) -> None:
    move = {
        "product": product["id"],
        "from_location": site.supplier_id,
        "to_location": site.storage_id,
        "quantity": float(delta),
        "unit": product["default_uom"],
        "unit_price": product.get("cost_price") or Decimal(0),
        "currency": site.currency_id,
        "company": site.company_id,
    }
    ids = await rpc.model("stock.move", "create", [move], site.context)
    await rpc.model("stock.move", "do", ids, site.context)


async def _count(rpc: TrytonRpc, site: TrytonSite, product: Mapping[str, Any], counted: Decimal) -> None:
    inventory = {
        "location": site.storage_id,
        "company": site.company_id,
        "lines": [["create", [{"product": product["id"], "quantity": float(counted)}]]],
    }
    ids = await rpc.model("stock.inventory", "create", [inventory], site.context)
    await rpc.model("stock.inventory", "confirm", ids, site.context)


async def write_sales(rpc: TrytonRpc, site: TrytonSite, payloads: Sequence[Payload]) -> list[WriteResult]:
    """Each payload becomes a quoted ``sale.sale``; a reference already in Tryton is not sold twice."""
    results: list[WriteResult] = []
    for index, payload in enumerate(payloads):
        key = payload.get("reference") if isinstance(payload.get("reference"), str) else None
        try:
            results.append(await _write_sale(rpc, site, index, payload))
        except (RecordError, PermanentError) as error:
            results.append(failure(index, error, key))
    return results


def _sale_lines(payload: Payload) -> list[tuple[str, Decimal, Decimal, str | None]]:
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        raise RecordError("lines: at least one line is required")
    parsed = []
    for number, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise RecordError(f"lines[{number}]: an object is required")
        try:
            quantity = decimal_of(line, "quantity")
            if quantity <= 0:
                raise RecordError("quantity: must be greater than 0")
            description = line.get("description")
            parsed.append(
                (
                    text_of(line, "code"),
                    quantity,
                    decimal_of(line, "unit_price"),
                    description if isinstance(description, str) else None,
                )
            )
        except RecordError as error:
            raise RecordError(f"lines[{number}].{error}") from None
    return parsed


async def _write_sale(rpc: TrytonRpc, site: TrytonSite, index: int, payload: Payload) -> WriteResult:
    reference = text_of(payload, "reference")
    lines = _sale_lines(payload)
    party = payload.get("party")
    if not isinstance(party, Mapping):
        raise RecordError("party: an object with a name is required")
    existing = await rpc.model(
        "sale.sale", "search_read", [("reference", "=", reference), ("state", "!=", "cancelled"),
        ("company", "=", site.company_id)], 0, 1, None, ["number"], site.context,
    )  # fmt: skip
    if existing:
        result = WriteResult.ok(index, reference, str(existing[0]["id"]))
        result.details.update({"number": existing[0]["number"], "duplicate": True})
        return result
    products = await products_by_code(rpc, site, [code for code, *_ in lines])
    unknown = sorted({code for code, *_ in lines if code not in products})
    if unknown:
        raise RecordError(f"lines: no Tryton product with code {', '.join(map(repr, unknown))}")
    currency_id = await _currency(rpc, site, payload.get("currency"))
    party_id, address_id = await _party(rpc, site, party)
    sale: dict[str, Any] = {
        "company": site.company_id,
        "currency": currency_id,
        "warehouse": site.warehouse_id,
        "party": party_id,
        "invoice_address": address_id,
        "shipment_address": address_id,
        "reference": reference,
        "lines": [
            [
                "create",
                [
                    {
                        "type": "line",
                        "product": products[code]["id"],
                        "unit": products[code]["default_uom"],
                        "quantity": float(quantity),
                        "unit_price": price,
                        **({"description": description} if description else {}),
                    }
                    for code, quantity, price, description in lines
                ],
            ]
        ],
    }
    if payload.get("sale_date"):
        try:
            sale["sale_date"] = dt.date.fromisoformat(str(payload["sale_date"])[:10])
        except ValueError:
            raise RecordError(f"sale_date: not an ISO date: {payload['sale_date']!r}") from None
    if isinstance(payload.get("description"), str):
        sale["description"] = payload["description"]
    ids = await rpc.model("sale.sale", "create", [sale], site.context)
    try:
        await rpc.model("sale.sale", "quote", ids, site.context)
    except PermanentError:
        # Leave no half-made draft behind for a sale Tryton refused.
        await rpc.model("sale.sale", "delete", ids, site.context)
        raise
    number = (await rpc.model("sale.sale", "read", ids, ["number"], site.context))[0]["number"]
    result = WriteResult.ok(index, reference, str(ids[0]))
    result.details["number"] = number
    return result


async def _currency(rpc: TrytonRpc, site: TrytonSite, code: Any) -> int:
    if code is None or code == site.currency_code:
        return site.currency_id
    found = await rpc.model("currency.currency", "search", [("code", "=", code)], 0, 1, None, site.context)
    if not found:
        raise RecordError(f"currency: Tryton has no currency {code!r}")
    return int(found[0])


async def _party(rpc: TrytonRpc, site: TrytonSite, party: Mapping[str, Any]) -> tuple[int, int]:
    """The customer by code (or else by name), created if new; with an address, which quoting needs."""
    name = text_of(party, "name")
    code = party.get("code") if isinstance(party.get("code"), str) and party.get("code") else None
    domain = [("code", "=", code)] if code else [("name", "=", name)]
    found = await rpc.model("party.party", "search", domain, 0, 1, [("id", "ASC")], site.context)
    raw_address = party.get("address")
    address = {
        key: raw_address[key]
        for key in ("street", "postal_code", "city")
        if isinstance(raw_address, Mapping) and isinstance(raw_address.get(key), str)
    }
    if not found:
        values: dict[str, Any] = {"name": name, "addresses": [["create", [address]]]}
        if code:
            values["code"] = code
        found = await rpc.model("party.party", "create", [values], site.context)
    party_id = int(found[0])
    addresses = await rpc.model(
        "party.address", "search", [("party", "=", party_id)], 0, 1, [("id", "ASC")], site.context
    )
    if not addresses:
        addresses = await rpc.model("party.address", "create", [{"party": party_id, **address}], site.context)
    return party_id, int(addresses[0])
