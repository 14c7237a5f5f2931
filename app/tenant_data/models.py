"""Tenant exports: one row per requested export, holding its progress and, when done, its file."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base, created_at_column, uuid_pk

EXPORT_STATUSES = ("queued", "running", "done", "failed")


class TenantExport(Base):
    """An export of every row of one tenant into a zip of JSON lines; the portal polls its progress.

    Progress lives here rather than in Redis: the file it points at outlives any Redis restart."""

    __tablename__ = "tenant_exports"

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    tables_total: Mapped[int] = mapped_column(Integer, server_default="0")
    tables_done: Mapped[int] = mapped_column(Integer, server_default="0")
    rows_total: Mapped[int] = mapped_column(BigInteger, server_default="0")
    rows_written: Mapped[int] = mapped_column(BigInteger, server_default="0")
    file_name: Mapped[str | None] = mapped_column(String(200))
    file_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint(f"status IN {EXPORT_STATUSES!r}", name="status_known"),)

    @property
    def is_finished(self) -> bool:
        """Whether the export has stopped (done or failed): the portal stops polling then."""
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        """Rows written of rows counted, as a whole percentage (100 once done)."""
        if self.status == "done":
            return 100
        if self.rows_total <= 0:
            return 0
        return min(99, self.rows_written * 100 // self.rows_total)
