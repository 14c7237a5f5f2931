"""X12 documents we receive: 850 purchase orders parsed into order-like dicts, problems per transaction.

Separators are taken from the ISA segment itself (element at position 3, component at 104, segment
terminator at 105), so partners may use any. A transaction with a problem becomes one record with an
``_error`` (path = file and ST control number, reason = every problem found); its neighbours still parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

ISA_LENGTH = 106
DEFAULT_SKU_QUALIFIERS = ("SK", "VN", "BP", "IN", "UP", "EN")


@dataclass
class _Transaction:
    code: str
    control: str
    segments: list[list[str]] = field(default_factory=list)
    closed: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class _Interchange:
    sender: str = ""
    receiver: str = ""
    control: str = ""
    transactions: list[_Transaction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _segments(text: str) -> tuple[list[list[str]], str] | str:
    """The segments split into elements, and the component separator; or why the text is not X12."""
    text = text.lstrip("\ufeff \r\n\t")
    if not text.startswith("ISA") or len(text) < ISA_LENGTH:
        return "not an X12 interchange: it does not start with a 106-character ISA segment"
    element, component, terminator = text[3], text[104], text[105]
    if len({element, component, terminator}) < 3 or terminator.isalnum():
        return "the ISA segment's separators are not three distinct characters"
    segments = [raw.strip("\r\n\t ").split(element) for raw in text.split(terminator)]
    return [s for s in segments if s != [""]], component


def _envelope(segments: list[list[str]]) -> _Interchange:
    """Group segments into transactions and check the ST/SE, GS/GE and ISA/IEA pairing and counts."""
    found = _Interchange()
    current: _Transaction | None = None
    in_group = 0
    for segment in segments:
        tag = segment[0]
        if tag == "ISA":
            found.sender = _at(segment, 6).strip()
            found.receiver = _at(segment, 8).strip()
            found.control = _at(segment, 13)
        elif tag == "GS":
            in_group = 0
        elif tag == "ST":
            if current is not None and not current.closed:
                current.problems.append("no SE segment before the next ST")
            current = _Transaction(_at(segment, 1), _at(segment, 2), [segment])
            found.transactions.append(current)
            in_group += 1
        elif tag == "SE":
            if current is None or current.closed:
                found.problems.append("an SE segment without its ST")
                continue
            current.segments.append(segment)
            current.closed = True
            count, control = _at(segment, 1), _at(segment, 2)
            if count != str(len(current.segments)):
                current.problems.append(f"SE01 says {count} segments, the set has {len(current.segments)}")
            if control != current.control:
                current.problems.append(f"SE02 {control!r} does not match ST02 {current.control!r}")
        elif tag == "GE":
            if _at(segment, 1) != str(in_group):
                found.problems.append(f"GE01 says {_at(segment, 1)} transactions, the group has {in_group}")
        elif tag == "IEA":
            if _at(segment, 2) != found.control:
                found.problems.append(f"IEA02 {_at(segment, 2)!r} does not match ISA13 {found.control!r}")
        elif current is not None and not current.closed:
            current.segments.append(segment)
    if current is not None and not current.closed:
        current.problems.append("no SE segment: the transaction is cut short")
    return found


def _at(segment: Sequence[str], position: int) -> str:
    return segment[position].strip() if position < len(segment) else ""


def _number(path: str, value: str, what: str, problems: list[str]) -> str | None:
    if not value:
        problems.append(f"{path}: {what} is missing")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        problems.append(f"{path}: {what} {value!r} is not a number")
        return None
    return str(number)


def _date(value: str) -> str | None:
    if len(value) != 8 or not value.isdigit():
        return None
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def _purchase_order(
    transaction: _Transaction, component: str, sku_qualifiers: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    problems = list(transaction.problems)
    order: dict[str, Any] = {"lines": [], "parties": [], "currency": None, "requested_delivery": None}
    party: dict[str, Any] | None = None
    line: dict[str, Any] | None = None
    counts: dict[str, int] = {}
    declared_lines: str | None = None
    inside = transaction.segments[1:-1] if transaction.closed else transaction.segments[1:]
    for segment in inside:
        tag = segment[0]
        counts[tag] = counts.get(tag, 0) + 1
        where = f"{tag}[{counts[tag]}]"
        if tag == "BEG":
            order["purpose"], order["order_type"] = _at(segment, 1), _at(segment, 2)
            order["order_id"] = _at(segment, 3) or None
            if not order["order_id"]:
                problems.append(f"{where}.BEG03: the purchase order number is missing")
            placed = _date(_at(segment, 5))
            if placed is None:
                problems.append(f"{where}.BEG05: {_at(segment, 5)!r} is not a CCYYMMDD date")
            order["placed_at"] = f"{placed}T00:00:00+00:00" if placed else None
        elif tag == "CUR":
            order["currency"] = _at(segment, 2) or None
        elif tag == "DTM" and _at(segment, 1) == "002":
            order["requested_delivery"] = _date(_at(segment, 2))
        elif tag == "N1":
            party = {
                "role": _at(segment, 1),
                "name": _at(segment, 2) or None,
                "id_qualifier": _at(segment, 3) or None,
                "id": _at(segment, 4) or None,
                "address": {"lines": [], "city": None, "state": None, "postal_code": None, "country": None},
            }
            order["parties"].append(party)
            line = None
        elif tag == "N3" and party is not None:
            party["address"]["lines"].extend(v for v in (_at(segment, 1), _at(segment, 2)) if v)
        elif tag == "N4" and party is not None:
            address = party["address"]
            address["city"], address["state"] = _at(segment, 1) or None, _at(segment, 2) or None
            address["postal_code"], address["country"] = _at(segment, 3) or None, _at(segment, 4) or None
        elif tag == "PO1":
            line = _po1(segment, where, component, sku_qualifiers, problems)
            order["lines"].append(line)
            party = None
        elif tag == "PID" and line is not None and _at(segment, 5):
            line["description"] = _at(segment, 5)
        elif tag == "CTT":
            declared_lines = _at(segment, 1)
    if "BEG" not in counts:
        problems.append("BEG: the transaction has no BEG segment")
    if not order["lines"]:
        problems.append("PO1: the order has no lines")
    if declared_lines is not None and declared_lines != str(counts.get("PO1", 0)):
        problems.append(f"CTT[1].CTT01: says {declared_lines} lines, the order has {counts.get('PO1', 0)}")
    order["ship_to"] = next((p for p in order["parties"] if p["role"] == "ST"), None)
    return order, problems


def _po1(
    segment: list[str], where: str, component: str, sku_qualifiers: Sequence[str], problems: list[str]
) -> dict[str, Any]:
    ids = {_at(segment, i): _at(segment, i + 1) for i in range(6, len(segment) - 1, 2) if _at(segment, i)}
    sku = next((ids[q] for q in sku_qualifiers if ids.get(q)), None)
    if sku is None:
        wanted = "/".join(sku_qualifiers)
        problems.append(f"{where}.PO107: no product id with a qualifier of {wanted}")
    return {
        "line_number": _at(segment, 1) or None,
        "sku": sku,
        "quantity": _number(f"{where}.PO102", _at(segment, 2), "quantity", problems),
        "unit": _at(segment, 3).split(component)[0] or None,
        "unit_price": _number(f"{where}.PO104", _at(segment, 4), "unit price", problems),
        "product_ids": ids,
    }


def purchase_orders(
    text: str, source: str, sku_qualifiers: Sequence[str] = DEFAULT_SKU_QUALIFIERS
) -> list[dict[str, Any]]:
    """Each 850 in ``text`` as an order dict, or an ``{"_error": {"path", "reason"}}`` record."""
    split = _segments(text)
    if isinstance(split, str):
        return [{"_error": {"path": source, "reason": split}, "source_file": source}]
    segments, component = split
    found = _envelope(segments)
    records: list[dict[str, Any]] = []
    for problem in found.problems:
        records.append({"_error": {"path": f"{source}#ISA{found.control}", "reason": problem}})
    for transaction in found.transactions:
        origin = {
            "source_file": source,
            "sender": found.sender,
            "receiver": found.receiver,
            "interchange_control_number": found.control,
            "control_number": transaction.control,
        }
        path = f"{source}#{transaction.control}"
        if transaction.code != "850":
            reason = f"transaction set {transaction.code} is not a purchase order (850)"
            records.append({"_error": {"path": path, "reason": reason}, **origin})
            continue
        order, problems = _purchase_order(transaction, component, sku_qualifiers)
        if problems:
            records.append({"_error": {"path": path, "reason": "; ".join(problems)}, **origin})
        else:
            records.append({**order, **origin})
    for record in records:
        record.setdefault("source_file", source)
    return records
