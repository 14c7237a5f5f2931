"""Reading a Vendure list (variants, orders) in ``updatedAt`` order, with a cursor that loses no tie.

Vendure sorts on one key only here (its sort input coerces fields in schema order, so ``id`` would
win over ``updatedAt``), shows ``updatedAt`` to the millisecond whatever the database keeps, and
SQLite stores creation times to the second, so many records share an ``updatedAt``. The cursor
therefore keeps the last ``updatedAt`` delivered *and* the ids already delivered at that instant. A
page that ends inside a group of equal ``updatedAt`` is cut before the group, the whole group is then
swept on its own (``id notIn`` the ids seen), and reading goes on from the next millisecond. So
neither a page border nor a later write in the same instant hides a record.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.sdk.errors import PermanentError

ListFetch = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]]]]
"""Runs the list query with the given ``options`` and returns its ``items``."""

TICK = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class ChangeMark:
    """Where a read stopped: the last ``updatedAt`` delivered and the ids delivered at that instant."""

    updated_at: str | None = None
    seen: tuple[str, ...] = ()

    def encode(self) -> str | None:
        if self.updated_at is None:
            return None
        return json.dumps({"updatedAt": self.updated_at, "seen": list(self.seen)}, separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> ChangeMark:
        if not cursor:
            return cls()
        try:
            raw = json.loads(cursor)
            updated_at, seen = raw["updatedAt"], raw.get("seen", [])
            parse_instant(updated_at)
            if not isinstance(seen, list):
                raise TypeError("seen is not a list")
        except (ValueError, TypeError, KeyError) as error:
            raise PermanentError(f"not a Vendure read cursor: {cursor[:80]!r} ({error})") from None
        return cls(updated_at=updated_at, seen=tuple(str(i) for i in seen))

    def after(self, records: list[dict[str, Any]]) -> ChangeMark:
        """The mark once ``records`` (sorted by ``updatedAt``) have been delivered too."""
        if not records:
            return self
        last = records[-1]["updatedAt"]
        at_last = tuple(str(r["id"]) for r in records if r["updatedAt"] == last)
        return ChangeMark(last, self.seen + at_last if last == self.updated_at else at_last)


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso_millis(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from(instant: str) -> dict[str, Any]:
    """A filter for ``updatedAt`` ≥ ``instant`` (``after`` alone is strict)."""
    return {"_or": [{"updatedAt": {"after": instant}}, {"updatedAt": {"eq": instant}}]}


async def changes(
    fetch: ListFetch, mark: ChangeMark, *, page_size: int, base_filter: Mapping[str, Any] | None = None
) -> AsyncIterator[tuple[list[dict[str, Any]], ChangeMark]]:
    """Pages of records changed after ``mark`` (everything without one), each with its resume mark."""
    base = dict(base_filter or {})
    if mark.updated_at is not None:
        # Records written after the previous read in the same instant as its last record.
        start = mark
        async for page, mark in _sweep(fetch, start, page_size, base):
            yield page, mark
    while True:
        filter_ = dict(base)
        if mark.updated_at is not None:
            # The mark's instant has been read whole; the next millisecond on is still to come.
            filter_.update(_from(iso_millis(parse_instant(mark.updated_at) + TICK)))
        items = await fetch({"filter": filter_, "sort": {"updatedAt": "ASC"}, "take": page_size})
        if len(items) < page_size:
            if items:
                mark = mark.after(items)
                yield items, mark
            return
        last = items[-1]["updatedAt"]
        head = [item for item in items if item["updatedAt"] != last]
        if head:
            mark = mark.after(head)
            yield head, mark
        # The page may end inside the group sharing ``last``: read that group whole, by id.
        group = start = ChangeMark(last)
        async for page, group in _sweep(fetch, start, page_size, base):
            yield page, group
        mark = group


async def _sweep(
    fetch: ListFetch, mark: ChangeMark, page_size: int, base: dict[str, Any]
) -> AsyncIterator[tuple[list[dict[str, Any]], ChangeMark]]:
    """Every record whose ``updatedAt`` equals the mark's and whose id it has not seen yet."""
    assert mark.updated_at is not None
    instant = parse_instant(mark.updated_at)
    # ±1 ms brackets the instant whether the database keeps seconds (SQLite), ms or µs.
    window = {"after": iso_millis(instant - TICK), "before": iso_millis(instant + TICK)}
    excluded = list(mark.seen)
    while True:
        filter_: dict[str, Any] = {**base, "updatedAt": window}
        if excluded:
            filter_["id"] = {"notIn": excluded}
        items = await fetch({"filter": filter_, "sort": {"id": "ASC"}, "take": page_size})
        # Neighbours within the ±1 ms window belong to other instants; the main read delivers them.
        fresh = [item for item in items if parse_instant(item["updatedAt"]) == instant]
        excluded.extend(str(item["id"]) for item in items)
        if fresh:
            mark = ChangeMark(mark.updated_at, mark.seen + tuple(str(i["id"]) for i in fresh))
            yield fresh, mark
        if len(items) < page_size:
            return
