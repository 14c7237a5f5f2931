"""The CSV layout of price and stock files: columns, delimiter, decimal separator, encoding, header.

Rows are checked field by field; a malformed row is reported with a path and a reason and never
stops the rest of the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.sdk.domains import Domain

DEFAULT_COLUMNS: dict[Domain, tuple[str, ...]] = {
    Domain.PRICES: ("store", "sku", "price", "currency", "effective_from"),
    Domain.INVENTORY: ("store", "sku", "on_hand", "available"),
}
REQUIRED: dict[Domain, tuple[str, ...]] = {
    Domain.PRICES: ("store", "sku", "price"),
    Domain.INVENTORY: ("store", "sku", "on_hand"),
}
DECIMAL_COLUMNS = frozenset({"price", "compare_at"})
INTEGER_COLUMNS = frozenset({"on_hand", "available", "reserved", "safety_stock"})

CSV_PROPERTIES: dict[str, Any] = {
    "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
    "decimal_separator": {"type": "string", "enum": [".", ","], "default": "."},
    "encoding": {"type": "string", "default": "utf-8"},
    "header": {"type": "boolean", "default": True, "description": "Files start with a header row."},
    "price_columns": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "minItems": 1,
        "default": list(DEFAULT_COLUMNS[Domain.PRICES]),
    },
    "stock_columns": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "minItems": 1,
        "default": list(DEFAULT_COLUMNS[Domain.INVENTORY]),
    },
}


class RowError(ValueError):
    """A field that cannot be written or read; ``column`` is the path, ``reason`` says why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column, self.reason = column, reason


@dataclass(frozen=True, slots=True)
class CsvLayout:
    columns: tuple[str, ...]
    required: tuple[str, ...]
    delimiter: str = ","
    decimal_separator: str = "."
    encoding: str = "utf-8"
    header: bool = True

    @classmethod
    def for_domain(cls, domain: Domain, settings: Mapping[str, Any]) -> CsvLayout:
        key = "price_columns" if domain is Domain.PRICES else "stock_columns"
        return cls(
            columns=tuple(settings.get(key) or DEFAULT_COLUMNS[domain]),
            required=REQUIRED[domain],
            delimiter=str(settings.get("delimiter", ",")),
            decimal_separator=str(settings.get("decimal_separator", ".")),
            encoding=str(settings.get("encoding", "utf-8")),
            header=bool(settings.get("header", True)),
        )

    def cells(self, payload: Mapping[str, Any]) -> list[str]:
        """The row for one payload, or ``RowError`` naming the first bad field."""
        for name in self.required:
            value = payload.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise RowError(name, "is missing")
        return [self._format(name, payload.get(name)) for name in self.columns]

    def _format(self, name: str, value: Any) -> str:
        if value is None:
            return ""
        if name in DECIMAL_COLUMNS:
            return str(decimal_field(name, value)).replace(".", self.decimal_separator)
        if name in INTEGER_COLUMNS:
            return str(integer_field(name, value))
        if isinstance(value, datetime | date):
            return value.isoformat()
        return str(value)

    def render(self, rows: Sequence[list[str]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\r\n")
        if self.header:
            writer.writerow(self.columns)
        writer.writerows(rows)
        return buffer.getvalue().encode(self.encoding)

    def parse(self, content: bytes) -> list[tuple[int, dict[str, Any] | RowError]]:
        """(line number, record or error) for each data row; empty cells become ``None``."""
        text = content.decode(self.encoding).lstrip("\ufeff")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        names, expecting_header = self.columns, self.header
        parsed: list[tuple[int, dict[str, Any] | RowError]] = []
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if expecting_header:
                names, expecting_header = tuple(cell.strip() for cell in cells), False
                continue
            parsed.append((line, self._record(names, cells)))
        return parsed

    def _record(self, names: tuple[str, ...], cells: list[str]) -> dict[str, Any] | RowError:
        if len(cells) != len(names):
            return RowError("(row)", f"has {len(cells)} fields, the header has {len(names)}")
        record: dict[str, Any] = {n: (c.strip() or None) for n, c in zip(names, cells, strict=True)}
        try:
            for name in self.required:
                if record.get(name) is None:
                    raise RowError(name, "is missing")
            for name, value in record.items():
                if value is None:
                    continue
                if name in DECIMAL_COLUMNS:
                    record[name] = str(decimal_field(name, value.replace(self.decimal_separator, ".")))
                elif name in INTEGER_COLUMNS:
                    record[name] = integer_field(name, value)
        except RowError as error:
            return error
        return record


def decimal_field(name: str, value: Any) -> Decimal:
    """``value`` as a finite Decimal, or ``RowError`` naming field ``name``."""
    if isinstance(value, bool):
        raise RowError(name, f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(name, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise RowError(name, f"{value!r} is not a number")
    return number


def integer_field(name: str, value: Any) -> int:
    """``value`` as a whole number (``"7"``, ``7``, ``"7.0"``), or ``RowError`` naming field ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = decimal_field(name, value)
    if number != number.to_integral_value():
        raise RowError(name, f"{value!r} is not a whole number")
    return int(number)
