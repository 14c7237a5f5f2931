"""SP-API timestamps (ISO 8601, ``Z``) compared as instants, for incremental-read cursors."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def later_of(current: str | None, candidate: object) -> str | None:
    """Whichever of two timestamps is later, as the original text; unreadable candidates are ignored."""
    if not isinstance(candidate, str):
        return current
    moment = parse_moment(candidate)
    if moment is None:
        return current
    known = parse_moment(current) if current else None
    return candidate if known is None or moment > known else current
