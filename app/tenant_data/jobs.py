"""arq jobs of tenant data: writing an export, and erasing a tenant being deleted (both outbox jobs)."""

from __future__ import annotations

import uuid
from typing import Any

from app.database.scope import DbScope
from app.outbox.jobs import MAX_TRIES
from app.outbox.service import claim_work
from app.tenant_data.deletion import erase_tenant
from app.tenant_data.export import ExportGoneError, finish_export, note_failure, write_export

JOB_TIMEOUT_SECONDS = 3600
"""A large tenant's export or erasure outlasts the worker's default job timeout."""


async def export_tenant(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: write one export. The claim is held (uncommitted) while the file is written, so a failure
    leaves the work to arq's retry, and the export is marked done in the claim's transaction."""
    db, clock = ctx["db"], ctx["clock"]
    async with db.transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        export_id = uuid.UUID(message.payload["export_id"])
        try:
            report = await write_export(db, ctx["settings"], clock, export_id)
        except ExportGoneError:
            return "export-gone"
        except Exception as error:
            await note_failure(db, export_id, error, final=int(ctx.get("job_try", 1)) >= MAX_TRIES)
            raise
        if not await finish_export(session, clock, export_id, report):
            return "export-gone"
    return f"exported {sum(report.rows.values())} rows from {len(report.rows)} tables"


async def delete_tenant(ctx: dict[str, Any], outbox_id: int) -> str:
    """Outbox job: erase a tenant whose deletion began; erasing is idempotent, so a retry finishes it."""
    db = ctx["db"]
    async with db.transaction(DbScope.system()) as session:
        message = await claim_work(session, outbox_id)
        if message is None:
            return "already-processed"
        report = await erase_tenant(
            db,
            ctx["redis"],
            ctx["settings"],
            uuid.UUID(message.payload["tenant_id"]),
            [uuid.UUID(u) for u in message.payload.get("user_ids", [])],
        )
    return f"erased {sum(report.rows.values())} rows, {report.users_removed} accounts"
