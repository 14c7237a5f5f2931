"""Flat files for store estates: price and stock CSVs, one file per store or region, in a folder or over SFTP.

Files have no 429, ``Retry-After`` or pagination: a write is one atomic file per group, and a read
walks the inbound folder file by file (a page per file, or per ``page_size`` rows of a big one), with
the last file processed as the cursor. A lost connection raises ``TransientError`` for the engine to
retry; a refused login raises ``AuthError``.

Example config::

    transport: sftp
    host: sftp.example-retail.com
    username: shelfsync
    password: "…"                # writeOnly
    known_hosts: "sftp.example-retail.com ssh-ed25519 AAAA…"
    grouping: region
    regions: {S001: north, S002: north, S101: south}
    delimiter: ";"
    decimal_separator: ","
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import TransientError
from connectors.sdk.results import ReadPage, WriteResult
from connectors.templates.flatfile.csv_format import CSV_PROPERTIES, CsvLayout, RowError
from connectors.templates.flatfile.destinations import (
    DESTINATION_PROPERTIES,
    SFTP_REQUIRES,
    FileStoreTemplate,
    RemoteFile,
)
from connectors.templates.flatfile.naming import (
    encode_cursor,
    file_key,
    file_name,
    files_after,
    group_of,
    order_of,
)


class FlatFileTemplate(FileStoreTemplate):
    key = "flatfile"
    name = "Flat files (CSV, folder or SFTP)"
    kind = Kind.FILE
    reads = frozenset({Domain.PRICES, Domain.INVENTORY})
    writes = frozenset({Domain.PRICES, Domain.INVENTORY})
    batch_size = 5000
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **DESTINATION_PROPERTIES,
            **CSV_PROPERTIES,
            "grouping": {
                "type": "string",
                "enum": ["store", "region"],
                "default": "store",
                "description": "One file per store, or per region (record's region, else the regions map).",
            },
            "regions": {"type": "object", "additionalProperties": {"type": "string"}, "default": {}},
            "price_file_prefix": {"type": "string", "default": "prices"},
            "stock_file_prefix": {"type": "string", "default": "stock"},
            "file_extension": {"type": "string", "pattern": "^[A-Za-z0-9]+$", "default": "csv"},
            "page_size": {"type": "integer", "minimum": 1, "default": 1000},
        },
        "allOf": [SFTP_REQUIRES],
    }

    def _prefix(self, domain: Domain) -> str:
        return str(self.settings["price_file_prefix" if domain is Domain.PRICES else "stock_file_prefix"])

    def _group(self, payload: Mapping[str, Any]) -> str:
        store = str(payload["store"]).strip()
        if self.settings["grouping"] == "store":
            return store
        region = payload.get("region") or self.settings["regions"].get(store)
        if not region:
            raise RowError("region", f"no region for store {store!r}: set it on the record or in regions")
        return str(region)

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        layout = CsvLayout.for_domain(domain, self.settings)
        results: dict[int, WriteResult] = {}
        groups: dict[str, list[tuple[int, list[str]]]] = {}
        for index, payload in enumerate(payloads):
            try:
                row = layout.cells(payload)
                group = self._group(payload)
            except RowError as error:
                results[index] = WriteResult.failed(index, str(error), _sku(payload))
                continue
            groups.setdefault(group, []).append((index, row))
        destination = await self._open() if groups else None
        now = self.context.now()
        first_line = 2 if layout.header else 1
        for group, rows in groups.items():
            assert destination is not None
            name = file_name(self._prefix(domain), group, now, str(self.settings["file_extension"]))
            content = layout.render([row for _, row in rows])
            try:
                written = await destination.write_atomic(str(self.settings["outbound_folder"]), name, content)
            except TransientError as error:
                # One group's file failing (disk full, permissions) leaves the other groups' files written.
                for index, _ in rows:
                    results[index] = WriteResult.failed(
                        index, error.message, _sku(payloads[index]), retryable=True
                    )
                continue
            for line, (index, _) in enumerate(rows, start=first_line):
                results[index] = WriteResult.ok(
                    index, _sku(payloads[index]), destination_id=f"{written}:{line}"
                )
        return [results[index] for index in range(len(payloads))]

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        layout = CsvLayout.for_domain(domain, self.settings)
        destination = await self._open()
        inbound = str(self.settings["inbound_folder"])
        prefix, page_size = self._prefix(domain), int(self.settings["page_size"])
        suffix = f".{self.settings['file_extension']}".lower()
        listed = [f for f in await destination.list_files(inbound) if f.name.startswith(prefix)]
        previous = cursor
        for file in files_after(listed, cursor, (suffix,)):
            records = _records(file.name, layout, await destination.read_file(inbound, file.name))
            done = encode_cursor(file_key(file))
            # Pages before a file's last one keep the previous cursor: resuming re-reads the whole file.
            starts = range(0, max(len(records), 1), page_size)
            for start in starts:
                last = start + page_size >= len(records)
                yield ReadPage(records[start : start + page_size], done if last else previous)
            previous = done

    async def read_back(self, domain: Domain) -> AsyncIterator[ReadPage]:
        """The newest outbound file of each store or region, a page per file: what the stores will load."""
        self.check_domain(domain, writing=False)
        layout = CsvLayout.for_domain(domain, self.settings)
        destination = await self._open()
        outbound = str(self.settings["outbound_folder"])
        prefix = f"{self._prefix(domain)}_"
        suffix = f".{self.settings['file_extension']}".lower()
        newest: dict[str, RemoteFile] = {}
        for file in await destination.list_files(outbound):
            if file.name.startswith(prefix) and file.name.lower().endswith(suffix):
                group = group_of(file.name)
                if group not in newest or order_of(file_key(file)) > order_of(file_key(newest[group])):
                    newest[group] = file
        for group in sorted(newest):
            file = newest[group]
            yield ReadPage(
                _records(file.name, layout, await destination.read_file(outbound, file.name)), None
            )


def _sku(payload: Mapping[str, Any]) -> str | None:
    sku = payload.get("sku")
    return str(sku) if sku not in (None, "") else None


def _records(name: str, layout: CsvLayout, content: bytes) -> list[dict[str, Any]]:
    """The file's rows as records; a malformed row is a record with an ``_error`` of path and reason."""
    try:
        rows = layout.parse(content)
    except (UnicodeDecodeError, LookupError) as error:
        return [{"_error": {"path": name, "reason": f"cannot decode as {layout.encoding}: {error}"}}]
    except csv.Error as error:
        return [{"_error": {"path": name, "reason": f"not a readable CSV file: {error}"}}]
    records: list[dict[str, Any]] = []
    for line, row in rows:
        origin = {"source_file": name, "source_line": line}
        if isinstance(row, RowError):
            records.append(
                {"_error": {"path": f"{name}:{line}.{row.column}", "reason": row.reason}, **origin}
            )
        else:
            records.append({**row, **origin})
    return records
