"""EDI X12 (4010) with a trading partner: 846 inventory and 832 prices out, 850 purchase orders in.

Documents travel through the flat-file template's folder or SFTP destinations. There is no 429,
``Retry-After`` or pagination with files: each write is one interchange file (one transaction set per
store), and a read walks the inbound folder one file per page with the last file as the cursor.

Interchange control numbers (ISA13, also used as GS06) must grow with every interchange sent to a
partner, across runs; the last one used is kept in a small hidden file next to the outbound documents
(``control_number_file``), written atomically before each document. One writer per connection is
assumed: the sync engine runs a connection's deliveries one at a time.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.sdk.domains import Domain, Kind
from connectors.sdk.results import ReadPage, WriteResult
from connectors.templates.edi.x12_reader import DEFAULT_SKU_QUALIFIERS, purchase_orders
from connectors.templates.edi.x12_writer import (
    Envelope,
    PriceLine,
    Separators,
    StockLine,
    Transaction,
    X12ValueError,
    check_element,
    interchange,
    inventory_advice,
    price_catalog,
)
from connectors.templates.flatfile.csv_format import RowError, decimal_field, integer_field
from connectors.templates.flatfile.destinations import (
    DESTINATION_PROPERTIES,
    SFTP_REQUIRES,
    Destination,
    FileStoreTemplate,
)
from connectors.templates.flatfile.naming import encode_cursor, file_key, file_name, files_after

MAX_CONTROL = 999_999_999
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SEPARATOR = {"type": "string", "minLength": 1, "maxLength": 1, "pattern": "^[^A-Za-z0-9 ]$"}
_ID = {"type": "string", "minLength": 1, "maxLength": 15, "pattern": "^[A-Za-z0-9 ._-]+$"}
_QUALIFIER = {"type": "string", "minLength": 2, "maxLength": 2, "default": "ZZ"}

StoreLine = tuple[int, str, StockLine | PriceLine, str]
"""(payload index, store, line, currency) for a payload that passed its checks."""


class EdiX12Template(FileStoreTemplate):
    key = "edi-x12"
    name = "EDI X12 (846, 832, 850)"
    kind = Kind.EDI
    reads = frozenset({Domain.ORDERS})
    writes = frozenset({Domain.INVENTORY, Domain.PRICES})
    batch_size = 10000
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["sender_id", "receiver_id"],
        "properties": {
            **DESTINATION_PROPERTIES,
            "sender_id": {**_ID, "description": "ISA06: our interchange id."},
            "sender_qualifier": _QUALIFIER,
            "receiver_id": {**_ID, "description": "ISA08: the partner's interchange id."},
            "receiver_qualifier": _QUALIFIER,
            "application_sender": {**_ID, "description": "GS02; the sender id when unset."},
            "application_receiver": {**_ID, "description": "GS03; the receiver id when unset."},
            "usage_indicator": {"type": "string", "enum": ["P", "T"], "default": "P"},
            "acknowledgment_requested": {"type": "boolean", "default": False},
            "version": {"type": "string", "enum": ["004010"], "default": "004010"},
            "element_separator": {**_SEPARATOR, "default": "*"},
            "segment_terminator": {**_SEPARATOR, "default": "~"},
            "component_separator": {**_SEPARATOR, "default": ">"},
            "line_break": {"type": "boolean", "default": False},
            "default_currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "USD"},
            "order_channel": {"type": "string", "minLength": 1, "default": "edi"},
            "sku_qualifiers": {
                "type": "array",
                "items": {"type": "string", "minLength": 2, "maxLength": 2},
                "minItems": 1,
                "default": list(DEFAULT_SKU_QUALIFIERS),
            },
            "inventory_file_prefix": {"type": "string", "default": "846"},
            "price_file_prefix": {"type": "string", "default": "832"},
            "file_extension": {"type": "string", "pattern": "^[A-Za-z0-9]+$", "default": "x12"},
            "inbound_extensions": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[A-Za-z0-9]+$"},
                "default": ["x12", "edi", "850", "txt"],
            },
            "control_number_file": {
                "type": "string",
                "pattern": r"^\.[A-Za-z0-9._-]+$",
                "default": ".x12-control",
            },
            "first_control_number": {"type": "integer", "minimum": 1, "maximum": MAX_CONTROL, "default": 1},
        },
        "allOf": [SFTP_REQUIRES],
    }

    @property
    def separators(self) -> Separators:
        s = self.settings
        return Separators(
            element=s["element_separator"],
            segment=s["segment_terminator"],
            component=s["component_separator"],
            line_break=bool(s["line_break"]),
        )

    @property
    def envelope(self) -> Envelope:
        s = self.settings
        return Envelope(
            sender_id=s["sender_id"],
            receiver_id=s["receiver_id"],
            sender_qualifier=s["sender_qualifier"],
            receiver_qualifier=s["receiver_qualifier"],
            application_sender=s.get("application_sender"),
            application_receiver=s.get("application_receiver"),
            usage=s["usage_indicator"],
            acknowledgment_requested=bool(s["acknowledgment_requested"]),
        )

    def _line(self, domain: Domain, payload: Mapping[str, Any]) -> tuple[str, StockLine | PriceLine, str]:
        """(store, line, currency) for one payload, or ``X12ValueError``/``RowError`` saying what is wrong."""
        separators = self.separators
        for name in ("store", "sku"):
            if payload.get(name) in (None, ""):
                raise X12ValueError(name, "is missing")
        store = check_element("store", str(payload["store"]), separators, low=2, high=80)
        sku = check_element("sku", str(payload["sku"]), separators, high=48)
        if domain is Domain.INVENTORY:
            if payload.get("on_hand") in (None, ""):
                raise X12ValueError("on_hand", "is missing")
            available = payload.get("available")
            line: StockLine | PriceLine = StockLine(
                sku,
                integer_field("on_hand", payload["on_hand"]),
                None if available in (None, "") else integer_field("available", available),
            )
            return store, line, ""
        if payload.get("price") in (None, ""):
            raise X12ValueError("price", "is missing")
        price = decimal_field("price", payload["price"])
        if price < 0:
            raise X12ValueError("price", "must not be negative")
        currency = str(payload.get("currency") or self.settings["default_currency"])
        if not _CURRENCY.match(currency):
            raise X12ValueError("currency", f"{currency!r} is not an ISO-4217 code")
        return store, PriceLine(sku, price, _moment(payload.get("effective_from"))), currency

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        results: dict[int, WriteResult] = {}
        groups: dict[tuple[str, str], list[tuple[int, StockLine | PriceLine]]] = {}
        for index, payload in enumerate(payloads):
            try:
                store, line, currency = self._line(domain, payload)
            except (X12ValueError, RowError) as error:
                results[index] = WriteResult.failed(index, str(error), _sku(payload))
                continue
            groups.setdefault((store, currency), []).append((index, line))
        if groups:
            destination = await self._open()
            control = await self._next_control(destination)
            now = self.context.now()
            transactions = [
                self._transaction(domain, store, currency, lines, control, now)
                for (store, currency), lines in groups.items()
            ]
            functional_id = "IB" if domain is Domain.INVENTORY else "SC"
            text, numbers = interchange(
                self.envelope, self.separators, functional_id, transactions, control, now
            )
            prefix = self.settings[
                "inventory_file_prefix" if domain is Domain.INVENTORY else "price_file_prefix"
            ]
            name = file_name(str(prefix), f"{control:09d}", now, str(self.settings["file_extension"]))
            written = await destination.write_atomic(
                str(self.settings["outbound_folder"]), name, text.encode("ascii", "replace")
            )
            for number, lines in zip(numbers, groups.values(), strict=True):
                for index, _ in lines:
                    results[index] = WriteResult.ok(
                        index, _sku(payloads[index]), destination_id=f"{written}#{number}"
                    )
        return [results[index] for index in range(len(payloads))]

    @staticmethod
    def _transaction(
        domain: Domain,
        store: str,
        currency: str,
        lines: list[tuple[int, StockLine | PriceLine]],
        control: int,
        now: datetime,
    ) -> Transaction:
        reference = str(control)
        if domain is Domain.INVENTORY:
            stock = [line for _, line in lines if isinstance(line, StockLine)]
            return Transaction("846", inventory_advice(store, stock, reference, now))
        prices = [line for _, line in lines if isinstance(line, PriceLine)]
        return Transaction("832", price_catalog(store, currency, prices, reference, now))

    async def _next_control(self, destination: Destination) -> int:
        """The next interchange control number, recorded on the destination before it is used."""
        folder, name = str(self.settings["outbound_folder"]), str(self.settings["control_number_file"])
        stored = await destination.read_optional(folder, name)
        last = int(stored.decode().strip() or 0) if stored else 0
        following = last + 1 if last < MAX_CONTROL else 1
        control = max(following, int(self.settings["first_control_number"]))
        await destination.write_atomic(folder, name, f"{control}\n".encode())
        return control

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        destination = await self._open()
        inbound = str(self.settings["inbound_folder"])
        suffixes = tuple(f".{extension}".lower() for extension in self.settings["inbound_extensions"])
        qualifiers = tuple(self.settings["sku_qualifiers"])
        for file in files_after(await destination.list_files(inbound), cursor, suffixes):
            content = await destination.read_file(inbound, file.name)
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                text = content.decode("latin-1")  # X12 is ASCII; latin-1 keeps odd bytes readable
            records = purchase_orders(text, file.name, qualifiers)
            for record in records:
                if "_error" not in record:
                    record["currency"] = record["currency"] or self.settings["default_currency"]
                    record["channel"] = self.settings["order_channel"]
            yield ReadPage(records, encode_cursor(file_key(file)))


def _sku(payload: Mapping[str, Any]) -> str | None:
    sku = payload.get("sku")
    return str(sku) if sku not in (None, "") else None


def _moment(value: Any) -> datetime | None:
    """An effective date from a datetime or ISO-8601 text; a date without zone is taken as UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise X12ValueError("effective_from", f"{value!r} is not an ISO-8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
