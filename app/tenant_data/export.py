"""Exporting a tenant: every row it owns (see ``catalogue``) into a zip with one ``<table>.jsonl`` member
per table and a ``manifest.json``, streamed from a server-side cursor in chunks so no table is ever held
in memory, read in one repeatable-read snapshot under the tenant's own RLS scope, with progress kept on
the export's row for the portal to poll.

JSON follows the API's rules (msgspec's): UUIDs as strings, datetimes ISO 8601, Decimals as strings,
durations ISO 8601, bytes base64; anything else a driver returns (network addresses) as its text.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import Clock
from app.database.engine import Database
from app.database.scope import DbScope
from app.outbox.service import record_work
from app.settings import Settings
from app.tenant_data.catalogue import TenantTable, export_tables
from app.tenant_data.models import TenantExport
from tenants.audit import Actor, record_audit
from tenants.models import Tenant

EXPORT_TASK = "export_tenant"
CHUNK_ROWS = 2000
"""Rows fetched from the cursor, encoded and written at a time."""


def _fallback(value: Any) -> Any:
    # ipaddress objects (inet columns) and whatever else msgspec has no rule for: their text
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_fallback)


def encode_row(columns: tuple[str, ...], row: Any) -> bytes:
    """One JSON line (without its newline) for a row of ``columns``."""
    return _encoder.encode(dict(zip(columns, row, strict=True)))


def exports_folder(settings: Settings, tenant_id: uuid.UUID) -> Path:
    """Where a tenant's export files live (removed with the tenant)."""
    return (settings.data_dir / "exports" / str(tenant_id)).resolve()


def export_file(settings: Settings, export: TenantExport) -> Path | None:
    """The finished export's zip, or None while there is none."""
    if export.status != "done" or not export.file_name:
        return None
    path = exports_folder(settings, export.tenant_id) / export.file_name
    return path if path.is_file() else None


async def request_export(
    session: AsyncSession, actor: Actor, *, tenant_id: uuid.UUID, requested_by: uuid.UUID | None
) -> TenantExport:
    """Record an export and its job in the caller's transaction, audited (who asked, when)."""
    export = TenantExport(tenant_id=tenant_id, requested_by=requested_by)
    session.add(export)
    await session.flush()
    await record_audit(
        session,
        actor,
        action="tenant.export_requested",
        target_type="tenant_export",
        target_id=export.id,
        tenant_id=tenant_id,
    )
    await record_work(
        session,
        EXPORT_TASK,
        {"export_id": str(export.id)},
        tenant_id=tenant_id,
        correlation_id=actor.correlation_id,
    )
    return export


@dataclass
class ExportReport:
    """What a finished export wrote."""

    path: Path
    file_bytes: int
    rows: dict[str, int] = field(default_factory=dict)


class ExportGoneError(LookupError):
    """The export's row is gone (its tenant was deleted meanwhile)."""


class _Progress:
    """Writes progress to the export's row in short transactions of its own, so the portal sees it while
    the snapshot transaction is still reading."""

    def __init__(self, db: Database, scope: DbScope, export_id: uuid.UUID) -> None:
        self.db, self.scope, self.export_id = db, scope, export_id

    async def save(self, **values: Any) -> None:
        async with self.db.transaction(self.scope) as session:
            await session.execute(
                update(TenantExport).where(TenantExport.id == self.export_id).values(**values)
            )


async def write_export(
    db: Database, settings: Settings, clock: Clock, export_id: uuid.UUID, *, chunk_rows: int = CHUNK_ROWS
) -> ExportReport:
    """Write the export's zip (under a temporary name, renamed when complete) and keep its progress."""
    async with db.transaction(DbScope.system()) as session:
        found = (
            await session.execute(
                select(TenantExport.tenant_id, Tenant.partner_id)
                .join(Tenant, Tenant.id == TenantExport.tenant_id)
                .where(TenantExport.id == export_id)
            )
        ).first()
    if found is None:
        raise ExportGoneError(str(export_id))
    tenant_id, partner_id = found
    progress = _Progress(db, DbScope.for_tenant(tenant_id, partner_id), export_id)
    folder = exports_folder(settings, tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    file_name = f"{export_id}.zip"
    partial = folder / f".{export_id}.{uuid.uuid4().hex}.partial"
    report = ExportReport(folder / file_name, 0)
    try:
        async with db.session(DbScope.for_tenant(tenant_id, partner_id, read_only=True)) as session:
            # one snapshot for the whole walk: the counts, the rows and the manifest agree with each other
            connection = await session.connection(
                execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
            tables = await export_tables(session)
            totals = {
                t.name: int(await connection.scalar(text(t.count_sql()), {"tenant": tenant_id}) or 0)
                for t in tables
            }
            await progress.save(
                status="running",
                started_at=clock.now(),
                tables_total=len(tables),
                rows_total=sum(totals.values()),
                tables_done=0,
                rows_written=0,
                error=None,
            )
            written = 0
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for done, table in enumerate(tables, start=1):
                    rows = 0
                    with archive.open(f"{table.name}.jsonl", "w", force_zip64=True) as member:
                        async for chunk in _chunks(session, table, tenant_id, chunk_rows):
                            columns = table.exported_columns
                            data = b"".join(encode_row(columns, row) + b"\n" for row in chunk)
                            # compressing and writing is blocking work: off the event loop
                            await asyncio.to_thread(member.write, data)
                            rows += len(chunk)
                            written += len(chunk)
                            await progress.save(rows_written=written)
                    report.rows[table.name] = rows
                    await progress.save(tables_done=done, rows_written=written)
                manifest = {
                    "tenant_id": tenant_id,
                    "export_id": export_id,
                    "exported_at": clock.now(),
                    "tables": report.rows,
                    "redacted_columns": sorted(
                        f"{t.name}.{c}" for t in tables for c in t.columns if c not in t.exported_columns
                    ),
                }
                archive.writestr("manifest.json", msgspec.json.format(_encoder.encode(manifest)))
        report.file_bytes = partial.stat().st_size
        os.replace(partial, report.path)
    finally:
        partial.unlink(missing_ok=True)
    return report


async def _chunks(session: AsyncSession, table: TenantTable, tenant_id: uuid.UUID, chunk_rows: int) -> Any:
    """The table's rows of the tenant, ``chunk_rows`` at a time, from a server-side cursor."""
    connection = await session.connection()
    result = await connection.stream(
        text(table.select_sql()).execution_options(yield_per=chunk_rows), {"tenant": tenant_id}
    )
    async for chunk in result.partitions(chunk_rows):
        yield chunk


async def finish_export(
    session: AsyncSession, clock: Clock, export_id: uuid.UUID, report: ExportReport
) -> bool:
    """Mark the export done with its file; False (and the file removed) when its row is gone."""
    result = await session.execute(
        update(TenantExport)
        .where(TenantExport.id == export_id)
        .values(
            status="done",
            file_name=report.path.name,
            file_bytes=report.file_bytes,
            rows_written=sum(report.rows.values()),
            finished_at=clock.now(),
            error=None,
        )
        .returning(TenantExport.tenant_id)
    )
    tenant_id = result.scalar_one_or_none()
    if tenant_id is None:
        report.path.unlink(missing_ok=True)
        return False
    return True


async def note_failure(db: Database, export_id: uuid.UUID, error: BaseException, *, final: bool) -> None:
    """Show the error on the export; it fails for good only when no retry is left."""
    values: dict[str, Any] = {"error": f"{type(error).__name__}: {error}"[:2000]}
    if final:
        values["status"] = "failed"
    async with db.transaction(DbScope.system()) as session:
        await session.execute(update(TenantExport).where(TenantExport.id == export_id).values(**values))
