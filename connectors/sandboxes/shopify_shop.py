"""The Shopify sandbox's in-memory shop and the resolvers of the root fields the connector uses.

Resolvers return dicts shaped like Admin GraphQL objects; graphql-core's default resolver reads their
keys and calls the callables among them with the field's arguments, so only what a query selects is
built. Mutations check their input the way Shopify does and answer ``userErrors`` (field path, message,
code) instead of failing the request.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sandboxes.shopify_search import matcher

Resolver = Callable[..., Any]
INVENTORY_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
MAX_QUANTITY = 1_000_000_000


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: Any, kind: str) -> int | None:
    prefix = f"gid://shopify/{kind}/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :])
    return None


def timestamp(moment: datetime) -> str:
    """Shopify's DateTime: UTC, second precision, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _error(path: Sequence[Any], message: str, code: str) -> dict[str, Any]:
    return {"field": [str(p) for p in path], "message": message, "code": code}


def _decimal(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def connection(
    items: Sequence[Any], render: Callable[[Any], Any], first: int | None, after: str | None
) -> dict[str, Any]:
    """A Relay connection page over ``items``; cursors are opaque offsets."""
    start = int(base64.b64decode(after).decode().split(":")[1]) if after else 0
    size = first if first is not None else len(items)
    page = items[start : start + size]
    nodes = [render(item) for item in page]
    end = start + len(page)
    return {
        "nodes": nodes,
        "edges": [{"node": n, "cursor": _cursor(start + i + 1)} for i, n in enumerate(nodes)],
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start + 1) if page else None,
            "endCursor": _cursor(end) if page else None,
        },
    }


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str | None
    title: str
    price: Decimal
    compare_at: Decimal | None
    barcode: str | None
    inventory_item_id: int
    updated_at: datetime


@dataclass
class Product:
    id: int
    title: str
    updated_at: datetime
    variant_ids: list[int] = field(default_factory=list)


@dataclass
class Level:
    available: int
    on_hand: int
    updated_at: datetime


@dataclass
class Discount:
    id: int
    kind: str  # "automatic" or "code"
    title: str
    code: str | None
    starts_at: datetime
    ends_at: datetime | None


@dataclass
class OrderLine:
    sku: str | None
    quantity: int
    price: Decimal
    discount: Decimal


@dataclass
class Order:
    id: int
    name: str
    email: str | None
    currency: str
    created_at: datetime
    updated_at: datetime
    financial_status: str
    fulfillment_status: str
    cancelled_at: datetime | None
    tax: Decimal
    lines: list[OrderLine]

    @property
    def discounts(self) -> Decimal:
        return sum((line.discount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        gross = sum((line.price * line.quantity for line in self.lines), Decimal(0))
        return gross - self.discounts + self.tax


class Shop:
    def __init__(
        self,
        *,
        name: str = "Sandbox Shop",
        currency: str = "EUR",
        locations: Sequence[str] = ("Main warehouse", "High street store"),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name, self.currency, self.now = name, currency, now
        self.location_names = list(locations)
        self.reset()

    def reset(self) -> None:
        self._ids = itertools.count(1001)
        self.locations = {next(self._ids): name for name in self.location_names}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.levels: dict[tuple[int, int], Level] = {}
        self.discounts: dict[int, Discount] = {}
        self.orders: dict[int, Order] = {}

    @property
    def domain(self) -> str:
        return self.name.lower().replace(" ", "-") + ".myshopify.com"

    # -- seeding ----------------------------------------------------------------------------------

    def add_product(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        moment = _datetime(spec.get("updated_at")) or self.now()
        product = Product(next(self._ids), str(spec.get("title", "Product")), moment)
        self.products[product.id] = product
        created = []
        for variant_spec in spec.get("variants", [{}]):
            variant = Variant(
                id=next(self._ids),
                product_id=product.id,
                sku=variant_spec.get("sku"),
                title=str(variant_spec.get("title", "Default Title")),
                price=Decimal(str(variant_spec.get("price", "0"))),
                compare_at=_decimal(variant_spec["compare_at_price"])
                if variant_spec.get("compare_at_price")
                else None,
                barcode=variant_spec.get("barcode"),
                inventory_item_id=next(self._ids),
                updated_at=_datetime(variant_spec.get("updated_at")) or moment,
            )
            self.variants[variant.id] = variant
            product.variant_ids.append(variant.id)
            stock = variant_spec.get("stock", {})
            for number, location_name in self.locations.items():
                # A number stocks the first location; a mapping names locations by gid or name.
                if isinstance(stock, int):
                    quantity = stock if number == next(iter(self.locations)) else 0
                else:
                    quantity = int(stock.get(gid("Location", number), stock.get(location_name, 0)))
                self.levels[(variant.inventory_item_id, number)] = Level(
                    quantity, quantity, variant.updated_at
                )
            created.append(
                {
                    "id": gid("ProductVariant", variant.id),
                    "sku": variant.sku,
                    "inventory_item_id": gid("InventoryItem", variant.inventory_item_id),
                }
            )
        return {"id": gid("Product", product.id), "variants": created}

    def add_order(self, spec: Mapping[str, Any]) -> Order:
        number = next(self._ids)
        created = _datetime(spec.get("created_at")) or self.now()
        order = Order(
            id=number,
            name=str(spec.get("name", f"#{number}")),
            email=spec.get("email"),
            currency=str(spec.get("currency", self.currency)),
            created_at=created,
            updated_at=_datetime(spec.get("updated_at")) or created,
            financial_status=str(spec.get("financial_status", "PAID")),
            fulfillment_status=str(spec.get("fulfillment_status", "UNFULFILLED")),
            cancelled_at=_datetime(spec.get("cancelled_at")),
            tax=Decimal(str(spec.get("tax", "0"))),
            lines=[
                OrderLine(
                    sku=line.get("sku"),
                    quantity=int(line["quantity"]),
                    price=Decimal(str(line["price"])),
                    discount=Decimal(str(line.get("discount", "0"))),
                )
                for line in spec.get("lines", [])
            ],
        )
        self.orders[order.id] = order
        return order

    def order_webhook_payload(self, order: Order) -> dict[str, Any]:
        """The REST-shaped ``orders/create`` payload Shopify sends for ``order``."""
        return {
            "id": order.id,
            "admin_graphql_api_id": gid("Order", order.id),
            "name": order.name,
            "email": order.email,
            "created_at": order.created_at.isoformat(),
            "updated_at": order.updated_at.isoformat(),
            "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
            "currency": order.currency,
            "financial_status": order.financial_status.lower(),
            "fulfillment_status": None
            if order.fulfillment_status == "UNFULFILLED"
            else order.fulfillment_status.lower(),
            "total_price": str(order.total),
            "total_discounts": str(order.discounts),
            "total_tax": str(order.tax),
            "line_items": [
                {
                    "sku": ln.sku,
                    "quantity": ln.quantity,
                    "price": str(ln.price),
                    "total_discount": str(ln.discount),
                }
                for ln in order.lines
            ],
        }

    # -- rendering --------------------------------------------------------------------------------

    def _money(self, amount: Decimal, currency: str | None = None) -> dict[str, Any]:
        money = {"amount": str(amount), "currencyCode": currency or self.currency}
        return {"shopMoney": money, "presentmentMoney": money}

    def _location(self, number: int) -> dict[str, Any]:
        return {"id": gid("Location", number), "name": self.locations[number]}

    def _level(self, item_id: int, number: int) -> dict[str, Any]:
        level = self.levels[(item_id, number)]
        values = {"available": level.available, "on_hand": level.on_hand}

        def quantities(info: Any, names: list[str]) -> list[dict[str, Any]]:
            return [
                {
                    "id": f"{gid('InventoryLevel', item_id)}?location={number}&name={n}",
                    "name": n,
                    "quantity": values.get(n, 0),
                    "updatedAt": timestamp(level.updated_at),
                }
                for n in names
            ]

        return {
            "id": f"{gid('InventoryLevel', item_id)}?inventory_item_id={item_id}&location_id={number}",
            "location": self._location(number),
            "quantities": quantities,
            "updatedAt": timestamp(level.updated_at),
        }

    def _inventory_item(self, variant: Variant) -> dict[str, Any]:
        item_id = variant.inventory_item_id
        stocked = [n for n in self.locations if (item_id, n) in self.levels]

        def levels(info: Any, first: int | None = None, after: str | None = None, **_: Any) -> dict[str, Any]:
            return connection(stocked, lambda n: self._level(item_id, n), first, after)

        def level(info: Any, **args: Any) -> dict[str, Any] | None:
            number = gid_number(args["locationId"], "Location")
            return self._level(item_id, number) if number in stocked else None

        return {
            "id": gid("InventoryItem", item_id),
            "sku": variant.sku,
            "tracked": True,
            "inventoryLevels": levels,
            "inventoryLevel": level,
        }

    def _variant(self, variant: Variant) -> dict[str, Any]:
        product = self.products[variant.product_id]
        return {
            "id": gid("ProductVariant", variant.id),
            "sku": variant.sku,
            "title": variant.title,
            "displayName": f"{product.title} - {variant.title}",
            "barcode": variant.barcode,
            "price": str(variant.price),
            "compareAtPrice": str(variant.compare_at) if variant.compare_at is not None else None,
            "updatedAt": timestamp(variant.updated_at),
            "product": lambda info: self._product(product),
            "inventoryItem": lambda info: self._inventory_item(variant),
            "inventoryQuantity": sum(
                level.available
                for (item, _), level in self.levels.items()
                if item == variant.inventory_item_id
            ),
        }

    def _product(self, product: Product) -> dict[str, Any]:
        return {
            "id": gid("Product", product.id),
            "title": product.title,
            "updatedAt": timestamp(product.updated_at),
            "status": "ACTIVE",
        }

    def _order(self, order: Order) -> dict[str, Any]:
        def line_items(
            info: Any, first: int | None = None, after: str | None = None, **_: Any
        ) -> dict[str, Any]:
            return connection(order.lines, lambda ln: self._line(order, ln), first, after)

        return {
            "id": gid("Order", order.id),
            "name": order.name,
            "email": order.email,
            "createdAt": timestamp(order.created_at),
            "updatedAt": timestamp(order.updated_at),
            "cancelledAt": timestamp(order.cancelled_at) if order.cancelled_at else None,
            "currencyCode": order.currency,
            "displayFinancialStatus": order.financial_status,
            "displayFulfillmentStatus": order.fulfillment_status,
            "totalPriceSet": self._money(order.total, order.currency),
            "totalDiscountsSet": self._money(order.discounts, order.currency),
            "totalTaxSet": self._money(order.tax, order.currency),
            "sourceName": "web",
            "lineItems": line_items,
        }

    def _line(self, order: Order, line: OrderLine) -> dict[str, Any]:
        return {
            "id": gid("LineItem", order.id * 1000 + order.lines.index(line)),
            "sku": line.sku,
            "title": line.sku or "Item",
            "quantity": line.quantity,
            "originalUnitPriceSet": self._money(line.price, order.currency),
            "totalDiscountSet": self._money(line.discount, order.currency),
            "taxLines": lambda info, **_: [],
        }

    def _status(self, discount: Discount) -> str:
        now = self.now()
        if discount.ends_at is not None and discount.ends_at <= now:
            return "EXPIRED"
        return "SCHEDULED" if discount.starts_at > now else "ACTIVE"

    def _discount_node(self, discount: Discount) -> dict[str, Any]:
        body = {
            "title": discount.title,
            "status": self._status(discount),
            "startsAt": timestamp(discount.starts_at),
            "endsAt": timestamp(discount.ends_at) if discount.ends_at else None,
        }
        if discount.kind == "code":
            body["__typename"] = "DiscountCodeBasic"
            return {"id": gid("DiscountCodeNode", discount.id), "codeDiscount": body}
        body["__typename"] = "DiscountAutomaticBasic"
        return {"id": gid("DiscountAutomaticNode", discount.id), "automaticDiscount": body}

    # -- queries ----------------------------------------------------------------------------------

    def _listing(
        self,
        records: Iterable[Any],
        fields: Mapping[str, Callable[[Any], Any]],
        query: str | None,
        sort: Callable[[Any], Any],
        reverse: bool | None,
    ) -> list[Any]:
        wanted = matcher(query, fields)
        return sorted((r for r in records if wanted(r)), key=sort, reverse=bool(reverse))

    def query_root(self) -> dict[str, Resolver]:
        variant_fields: dict[str, Callable[[Any], Any]] = {
            "sku": lambda v: v.sku,
            "updated_at": lambda v: v.updated_at,
            "id": lambda v: v.id,
            "product_id": lambda v: v.product_id,
            "barcode": lambda v: v.barcode,
        }
        order_fields: dict[str, Callable[[Any], Any]] = {
            "updated_at": lambda o: o.updated_at,
            "created_at": lambda o: o.created_at,
            "name": lambda o: o.name,
            "email": lambda o: o.email,
        }
        order_sorts: dict[str, Callable[[Order], Any]] = {
            "UPDATED_AT": lambda o: (o.updated_at, o.id),
            "CREATED_AT": lambda o: (o.created_at, o.id),
        }

        def shop(info: Any) -> dict[str, Any]:
            return {"name": self.name, "currencyCode": self.currency, "myshopifyDomain": self.domain}

        def product_variants(
            info: Any,
            first: int | None = None,
            after: str | None = None,
            query: str | None = None,
            reverse: bool | None = None,
            **_: Any,
        ) -> dict[str, Any]:
            found = self._listing(self.variants.values(), variant_fields, query, lambda v: v.id, reverse)
            return connection(found, self._variant, first, after)

        def product_variant(info: Any, id: str) -> dict[str, Any] | None:
            variant = self.variants.get(gid_number(id, "ProductVariant") or 0)
            return self._variant(variant) if variant else None

        def orders(
            info: Any,
            first: int | None = None,
            after: str | None = None,
            query: str | None = None,
            reverse: bool | None = None,
            **args: Any,
        ) -> dict[str, Any]:
            sort = order_sorts.get(args.get("sortKey") or "", lambda o: o.id)
            found = self._listing(self.orders.values(), order_fields, query, sort, reverse)
            return connection(found, self._order, first, after)

        def discount_node(kind: str) -> Resolver:
            def resolve(info: Any, id: str) -> dict[str, Any] | None:
                node_kind = "DiscountCodeNode" if kind == "code" else "DiscountAutomaticNode"
                discount = self.discounts.get(gid_number(id, node_kind) or 0)
                return self._discount_node(discount) if discount and discount.kind == kind else None

            return resolve

        return {
            "shop": shop,
            "productVariants": product_variants,
            "productVariant": product_variant,
            "orders": orders,
            "automaticDiscountNode": discount_node("automatic"),
            "codeDiscountNode": discount_node("code"),
        }

    # -- mutations --------------------------------------------------------------------------------

    def mutation_root(self) -> dict[str, Resolver]:
        return {
            "productVariantsBulkUpdate": self.product_variants_bulk_update,
            "inventorySetQuantities": self.inventory_set_quantities,
            "discountAutomaticBasicCreate": lambda info, **args: self.create_discount(
                "automatic", args["automaticBasicDiscount"], "automaticBasicDiscount"
            ),
            "discountCodeBasicCreate": lambda info, **args: self.create_discount(
                "code", args["basicCodeDiscount"], "basicCodeDiscount"
            ),
            "discountAutomaticDeactivate": lambda info, id: self.deactivate_discount("automatic", id),
            "discountCodeDeactivate": lambda info, id: self.deactivate_discount("code", id),
        }

    def product_variants_bulk_update(
        self,
        info: Any,
        variants: list[dict[str, Any]],
        **args: Any,
    ) -> dict[str, Any]:
        product = self.products.get(gid_number(args["productId"], "Product") or 0)
        if product is None:
            error = _error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
            return {"product": None, "productVariants": None, "userErrors": [error]}
        errors: list[dict[str, Any]] = []
        valid: list[tuple[Variant, dict[str, Any]]] = []
        for i, change in enumerate(variants):
            before = len(errors)
            variant = self.variants.get(gid_number(change.get("id"), "ProductVariant") or 0)
            if change.get("id") is None:
                errors.append(
                    _error(
                        ["variants", i, "id"], "Product variant id is missing", "PRODUCT_VARIANT_ID_MISSING"
                    )
                )
            elif variant is None:
                errors.append(
                    _error(
                        ["variants", i, "id"],
                        "Product variant does not exist",
                        "PRODUCT_VARIANT_DOES_NOT_EXIST",
                    )
                )
            elif variant.product_id != product.id:
                errors.append(
                    _error(
                        ["variants", i, "id"],
                        "Product variant must be for this product",
                        "MUST_BE_FOR_THIS_PRODUCT",
                    )
                )
            for name in ("price", "compareAtPrice"):
                if name not in change or change[name] is None:
                    continue
                amount = _decimal(change[name])
                if amount is None:
                    errors.append(_error(["variants", i, name], f"{name} is invalid", "INVALID_INPUT"))
                elif amount < 0:
                    label = "Price" if name == "price" else "Compare at price"
                    errors.append(
                        _error(
                            ["variants", i, name],
                            f"{label} must be greater than or equal to 0",
                            "GREATER_THAN_OR_EQUAL_TO",
                        )
                    )
            if len(errors) == before and variant is not None:
                valid.append((variant, change))
        if errors and not args.get("allowPartialUpdates"):
            return {"product": None, "productVariants": None, "userErrors": errors}
        moment = self.now()
        for variant, change in valid:
            if change.get("price") is not None:
                variant.price = Decimal(str(change["price"]))
            if "compareAtPrice" in change:
                variant.compare_at = (
                    _decimal(change["compareAtPrice"]) if change["compareAtPrice"] is not None else None
                )
            variant.updated_at = moment
            product.updated_at = moment
        return {
            "product": self._product(product),
            "productVariants": [self._variant(v) for v, _ in valid],
            "userErrors": errors,
        }

    def inventory_set_quantities(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        name, reason = input["name"], input["reason"]
        if name not in ("available", "on_hand"):
            errors.append(
                _error(
                    ["input", "name"],
                    "The quantity name must be either 'available' or 'on_hand'.",
                    "INVALID_NAME",
                )
            )
        if reason not in INVENTORY_REASONS:
            errors.append(_error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"))
        seen: set[tuple[int, int]] = set()
        changes: list[tuple[int, Level, int]] = []
        for i, entry in enumerate(input["quantities"]):
            path = ["input", "quantities", i]
            item = gid_number(entry["inventoryItemId"], "InventoryItem")
            location = gid_number(entry["locationId"], "Location")
            quantity = entry["quantity"]
            if "changeFromQuantity" not in entry:
                errors.append(
                    _error(
                        [*path, "changeFromQuantity"],
                        "The changeFromQuantity argument must be given (null to skip the check).",
                        "COMPARE_QUANTITY_REQUIRED",
                    )
                )
            if item is None or not any(v.inventory_item_id == item for v in self.variants.values()):
                errors.append(
                    _error(
                        [*path, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
                continue
            if location is None or location not in self.locations:
                errors.append(
                    _error(
                        [*path, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            level = self.levels.get((item, location))
            if level is None:
                errors.append(
                    _error(
                        [*path, "locationId"],
                        "The inventory item is not stocked at the location.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            if (item, location) in seen:
                errors.append(
                    _error(
                        path,
                        "The combination of inventoryItemId and locationId must be unique.",
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )
                )
            seen.add((item, location))
            if quantity < 0:
                errors.append(
                    _error(
                        [*path, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE"
                    )
                )
            elif quantity > MAX_QUANTITY:
                errors.append(
                    _error(
                        [*path, "quantity"],
                        "The quantity can't be higher than 1,000,000,000.",
                        "INVALID_QUANTITY_TOO_HIGH",
                    )
                )
            current = level.available if name == "available" else level.on_hand
            expected = entry.get("changeFromQuantity")
            if expected is not None and expected != current:
                errors.append(
                    _error(
                        [*path, "changeFromQuantity"],
                        "The specified compare quantity is stale.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
            changes.append((item, level, quantity))
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        moment = self.now()
        recorded = []
        for _, level, quantity in changes:
            delta = quantity - (level.available if name == "available" else level.on_hand)
            level.available += delta
            level.on_hand += delta
            level.updated_at = moment
            recorded.append({"name": name, "delta": delta, "quantityAfterChange": quantity})
        changed_items = {item for item, _, _ in changes}
        for variant in self.variants.values():
            # Shopify moves a variant's updated_at when its stock changes; incremental stock reads rely on it.
            if variant.inventory_item_id in changed_items:
                variant.updated_at = moment
        group = {
            "id": gid("InventoryAdjustmentGroup", next(self._ids)),
            "reason": reason,
            "changes": recorded,
            "createdAt": timestamp(moment),
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def create_discount(self, kind: str, spec: dict[str, Any], root: str) -> dict[str, Any]:
        node_key = "codeDiscountNode" if kind == "code" else "automaticDiscountNode"
        errors: list[dict[str, Any]] = []
        title = (spec.get("title") or "").strip()
        if not title:
            errors.append(_error([root, "title"], "Title can't be blank", "BLANK"))
        starts_at = _datetime(spec.get("startsAt"))
        ends_at = _datetime(spec.get("endsAt"))
        if starts_at is None:
            errors.append(_error([root, "startsAt"], "Starts at can't be blank", "BLANK"))
        elif ends_at is not None and ends_at <= starts_at:
            errors.append(
                _error([root, "endsAt"], "Ends at needs to be after starts_at", "END_DATE_BEFORE_START_DATE")
            )
        code = spec.get("code")
        if kind == "code":
            if not code:
                errors.append(_error([root, "code"], "Code can't be blank", "BLANK"))
            elif any(d.code and d.code.lower() == str(code).lower() for d in self.discounts.values()):
                errors.append(
                    _error([root, "code"], "Code must be unique. Please try a different code.", "TAKEN")
                )
        gets = spec.get("customerGets") or {}
        value = gets.get("value") or {}
        if not gets:
            errors.append(_error([root, "customerGets"], "Customer gets can't be blank", "BLANK"))
        elif ("percentage" in value) == ("discountAmount" in value):
            errors.append(
                _error(
                    [root, "customerGets", "value"],
                    "Exactly one of percentage or discountAmount is required",
                    "INVALID",
                )
            )
        elif "percentage" in value and not 0 < float(value["percentage"]) <= 1:
            errors.append(
                _error(
                    [root, "customerGets", "value", "percentage"],
                    "Value must be between 0.0 and 1.0",
                    "VALUE_OUTSIDE_RANGE",
                )
            )
        elif "discountAmount" in value and not (_decimal(value["discountAmount"].get("amount")) or 0) > 0:
            errors.append(
                _error(
                    [root, "customerGets", "value", "discountAmount", "amount"],
                    "Value must be greater than 0",
                    "GREATER_THAN",
                )
            )
        items = gets.get("items") or {}
        to_add = (items.get("products") or {}).get("productVariantsToAdd") or []
        if (
            gets
            and not items.get("all")
            and not to_add
            and not (items.get("products") or {}).get("productsToAdd")
        ):
            errors.append(
                _error([root, "customerGets", "items"], "Items must be selected", "APPLIES_ON_NOTHING")
            )
        for i, variant_id in enumerate(to_add):
            if (gid_number(variant_id, "ProductVariant") or 0) not in self.variants:
                errors.append(
                    _error(
                        [root, "customerGets", "items", "products", "productVariantsToAdd", i],
                        "Product variant does not exist",
                        "INVALID",
                    )
                )
        if errors or starts_at is None:
            return {node_key: None, "userErrors": errors}
        discount = Discount(next(self._ids), kind, title, str(code) if code else None, starts_at, ends_at)
        self.discounts[discount.id] = discount
        return {node_key: self._discount_node(discount), "userErrors": []}

    def deactivate_discount(self, kind: str, discount_id: str) -> dict[str, Any]:
        node_kind = "DiscountCodeNode" if kind == "code" else "DiscountAutomaticNode"
        node_key = "codeDiscountNode" if kind == "code" else "automaticDiscountNode"
        discount = self.discounts.get(gid_number(discount_id, node_kind) or 0)
        if discount is None or discount.kind != kind:
            return {node_key: None, "userErrors": [_error(["id"], "Discount does not exist", "INVALID")]}
        now = self.now()
        if discount.ends_at is None or discount.ends_at > now:
            discount.ends_at = now
        return {node_key: self._discount_node(discount), "userErrors": []}
