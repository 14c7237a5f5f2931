"""Resumable change passes: what an incremental Tryton read stores between pages and between runs.

A pass walks the records changed since ``since`` in id order, so page borders fall on ids and records
sharing a timestamp are never split or skipped. ``after`` is the last id handed out and ``high`` the
latest change time seen so far; when the pass ends, the next one starts from ``since = high``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from connectors.sdk.errors import PermanentError


@dataclass(frozen=True, slots=True)
class ChangeCursor:
    since: datetime | None = None
    after: int = 0
    high: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> ChangeCursor:
        if not text:
            return cls()
        try:
            raw = json.loads(text)
            return cls(
                since=datetime.fromisoformat(raw["since"]) if raw.get("since") else None,
                after=int(raw.get("after", 0)),
                high=datetime.fromisoformat(raw["high"]) if raw.get("high") else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            raise PermanentError(f"not a Tryton read cursor: {text[:100]!r}") from None

    def dump(self) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "after": self.after,
                "high": self.high.isoformat() if self.high else None,
            }
        )

    def seen(self, stamp: datetime | None) -> ChangeCursor:
        if stamp is None or (self.high is not None and stamp <= self.high):
            return self
        return replace(self, high=stamp)

    def advanced(self, after: int) -> ChangeCursor:
        return replace(self, after=after)

    def finished(self) -> ChangeCursor:
        """The cursor for the next pass: everything changed after the latest change seen."""
        return ChangeCursor(since=self.high or self.since, after=0, high=None)


def latest(*stamps: datetime | None) -> datetime | None:
    present = [stamp for stamp in stamps if stamp is not None]
    return max(present) if present else None
