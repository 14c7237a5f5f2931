"""X12 4010 documents we send: the ISA/GS/ST…SE/GE/IEA envelope, 846 inventory advice, 832 price catalog.

Segments are lists of elements (the segment id first); empty trailing elements are dropped. Values are
checked before they get here (``X12ValueError``), so a separator inside a SKU can never split a segment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

Segment = list[str]

VERSION = "004010"
ISA_VERSION = "00401"


class X12ValueError(ValueError):
    """A value that cannot go into an X12 element; ``field`` is the payload field, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True, slots=True)
class Separators:
    element: str = "*"
    segment: str = "~"
    component: str = ">"
    line_break: bool = False
    """Put a newline after each segment terminator (some partners' tools need it; X12 allows it)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends to whom: ISA ids with their qualifiers, GS application codes, test or production."""

    sender_id: str
    receiver_id: str
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    application_sender: str | None = None
    application_receiver: str | None = None
    usage: str = "P"
    acknowledgment_requested: bool = False


@dataclass(frozen=True, slots=True)
class StockLine:
    sku: str
    on_hand: int
    available: int | None = None


@dataclass(frozen=True, slots=True)
class PriceLine:
    sku: str
    price: Decimal
    effective_from: datetime | None = None


def check_element(field: str, value: str, separators: Separators, *, low: int = 1, high: int) -> str:
    """``value`` if it fits an element of ``low``–``high`` characters without separators."""
    if not low <= len(value) <= high:
        raise X12ValueError(field, f"{value!r} must be {low}–{high} characters in X12")
    used = {separators.element, separators.segment, separators.component}
    if any(ch in value for ch in used) or any(ord(ch) < 32 for ch in value):
        raise X12ValueError(field, f"{value!r} contains an X12 separator or control character")
    return value


def _number(value: Decimal | int) -> str:
    """X12 ``R``/``N`` text: no exponent, no trailing zeros after the point (``12.5``, ``3``)."""
    text = format(Decimal(value).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def inventory_advice(store: str, lines: Sequence[StockLine], reference: str, when: datetime) -> list[Segment]:
    """The body of an 846 (between ST and SE): on-hand (QTY 17) and available (QTY 33) per SKU."""
    body: list[Segment] = [
        ["BIA", "00", "SI", reference, when.strftime("%Y%m%d"), when.strftime("%H%M")],
        ["N1", "SN", "", "92", store],
    ]
    for line in lines:
        body.append(["LIN", "", "SK", line.sku])
        body.append(["QTY", "17", _number(line.on_hand), "EA"])
        if line.available is not None:
            body.append(["QTY", "33", _number(line.available), "EA"])
    body.append(["CTT", str(len(lines))])
    return body


def price_catalog(
    store: str, currency: str, lines: Sequence[PriceLine], reference: str, when: datetime
) -> list[Segment]:
    """The body of an 832: one LIN per SKU with its resale price (CTP ``RES``) and effective date."""
    body: list[Segment] = [
        ["BCT", "PC", reference[:15]],
        ["DTM", "097", when.strftime("%Y%m%d"), when.strftime("%H%M"), "UT"],
        ["CUR", "SE", currency],
        ["N1", "SN", "", "92", store],
    ]
    for line in lines:
        body.append(["LIN", "", "SK", line.sku])
        body.append(["CTP", "", "RES", _number(line.price)])
        if line.effective_from is not None:
            start = line.effective_from.astimezone(UTC)
            body.append(["DTM", "007", start.strftime("%Y%m%d"), start.strftime("%H%M"), "UT"])
    body.append(["CTT", str(len(lines))])
    return body


@dataclass(frozen=True, slots=True)
class Transaction:
    code: str
    """The transaction set id (``846``, ``832``)."""
    body: list[Segment]


def interchange(
    envelope: Envelope,
    separators: Separators,
    functional_id: str,
    transactions: Sequence[Transaction],
    control: int,
    when: datetime,
) -> tuple[str, list[str]]:
    """The whole interchange as text, and the ST control number given to each transaction, in order.

    ``control`` numbers the interchange (ISA13/IEA02) and its one functional group (GS06/GE02);
    transactions are numbered 0001, 0002… within the group (ST02/SE02).
    """
    if not 0 < control < 1_000_000_000:
        raise X12ValueError("control_number", f"{control} does not fit the 9 digits of ISA13")
    stamp = when.astimezone(UTC)
    e = envelope
    isa: Segment = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        e.sender_qualifier,
        e.sender_id.ljust(15),
        e.receiver_qualifier,
        e.receiver_id.ljust(15),
        stamp.strftime("%y%m%d"),
        stamp.strftime("%H%M"),
        "U",
        ISA_VERSION,
        f"{control:09d}",
        "1" if e.acknowledgment_requested else "0",
        e.usage,
        separators.component,
    ]
    segments: list[Segment] = [
        isa,
        [
            "GS",
            functional_id,
            e.application_sender or e.sender_id,
            e.application_receiver or e.receiver_id,
            stamp.strftime("%Y%m%d"),
            stamp.strftime("%H%M"),
            str(control),
            "X",
            VERSION,
        ],
    ]
    numbers: list[str] = []
    for position, transaction in enumerate(transactions, start=1):
        number = f"{position:04d}"
        numbers.append(number)
        segments.append(["ST", transaction.code, number])
        segments.extend(transaction.body)
        # SE01 counts every segment of the set, ST and SE included.
        segments.append(["SE", str(len(transaction.body) + 2), number])
    segments.append(["GE", str(len(transactions)), str(control)])
    segments.append(["IEA", "1", f"{control:09d}"])
    terminator = separators.segment + ("\n" if separators.line_break else "")
    text = "".join(_render(segment, separators) + terminator for segment in segments)
    return text, numbers


def _render(segment: Segment, separators: Separators) -> str:
    elements = list(segment)
    if elements[0] != "ISA":  # ISA is fixed-width: its blanks are significant
        while len(elements) > 1 and elements[-1] == "":
            elements.pop()
    return separators.element.join(elements)
