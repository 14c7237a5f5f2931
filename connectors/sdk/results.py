"""What ``test_connection``, ``read`` and ``write`` hand back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

WriteStatus = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    detail: str
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ReadPage:
    """One page of source payloads. ``cursor`` resumes an incremental read after this page."""

    records: list[dict[str, Any]]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome for the record at ``index`` of the batch; a failed record never fails its neighbours."""

    index: int
    status: WriteStatus
    key: str | None = None
    error: str | None = None
    retryable: bool = False
    destination_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, index: int, key: str | None = None, destination_id: str | None = None) -> WriteResult:
        return cls(index=index, status="ok", key=key, destination_id=destination_id)

    @classmethod
    def failed(
        cls, index: int, error: str, key: str | None = None, *, retryable: bool = False
    ) -> WriteResult:
        return cls(index=index, status="failed", key=key, error=error, retryable=retryable)
