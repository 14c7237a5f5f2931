"""Cursor pagination (``?limit=&cursor=`` → ``next_cursor``) over an ordering by unique key columns."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.http.problems import Problem

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(msgspec.Struct, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Problem(
            400,
            f"limit must be between 1 and {MAX_LIMIT}.",
            errors=[{"path": "limit", "reason": f"must be between 1 and {MAX_LIMIT}"}],
        )
    return limit


_KEY_KINDS: tuple[type, ...] = (datetime, int, str, uuid.UUID)


def _key_value(kind: type, raw: Any) -> Any:
    if kind is datetime and isinstance(raw, str):
        at = datetime.fromisoformat(raw)
        if at.tzinfo is None:
            raise ValueError("naive timestamp")
        return at
    if kind is uuid.UUID and isinstance(raw, str):
        return uuid.UUID(raw)
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool) and -(2**63) <= raw < 2**63:
        return raw
    if kind is str and isinstance(raw, str):
        return raw
    raise ValueError(f"not a {kind.__name__}")


@dataclass(frozen=True, slots=True)
class KeyCursor:
    """A position in an ordering by any columns (timestamps, integers, strings, uuids): the last
    item's values of those columns."""

    values: tuple[Any, ...]

    def encode(self) -> str:
        plain = [
            v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
            for v in self.values
        ]
        raw = json.dumps(plain).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str, kinds: tuple[type, ...]) -> KeyCursor:
        try:
            padded = value + "=" * (-len(value) % 4)
            raw = json.loads(base64.urlsafe_b64decode(padded))
            if not isinstance(raw, list) or len(raw) != len(kinds):
                raise ValueError("wrong shape")
            return cls(tuple(_key_value(kind, item) for kind, item in zip(kinds, raw, strict=True)))
        except (ValueError, TypeError, json.JSONDecodeError):
            raise Problem(
                400,
                "The cursor is not one this API returned.",
                type_slug="invalid-cursor",
                errors=[{"path": "cursor", "reason": "malformed"}],
            ) from None


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    order: tuple[InstrumentedAttribute[Any], ...],
    limit: int,
    cursor: str | None,
    view: Callable[[Any], T],
    *,
    is_descending: bool = False,
) -> Page[T]:
    """One page of ``query`` ordered by the ``order`` columns (together unique), ascending unless
    ``is_descending``; the cursor holds the last item's values of those columns."""
    kinds = tuple(column.type.python_type for column in order)
    if any(kind not in _KEY_KINDS for kind in kinds):
        raise TypeError(f"cannot page by columns of types {kinds}")
    directed = [column.desc() if is_descending else column.asc() for column in order]
    ordered = query.order_by(*directed).limit(check_limit(limit) + 1)
    if cursor:
        position = KeyCursor.decode(cursor, kinds).values
        key = tuple_(*order)
        ordered = ordered.where(key < position if is_descending else key > position)
    rows = list((await session.scalars(ordered)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = (
        KeyCursor(tuple(getattr(last, column.key) for column in order)).encode() if more and last else None
    )
    return Page([view(row) for row in rows], next_cursor)


async def newest_first(
    session: AsyncSession,
    query: Select[Any],
    order: tuple[InstrumentedAttribute[datetime], InstrumentedAttribute[uuid.UUID]],
    limit: int,
    cursor: str | None,
    view: Callable[[Any], T],
) -> Page[T]:
    """One page of ``query`` newest first by ``order`` (a timestamp column and the id column)."""
    return await keyset_page(session, query, order, limit, cursor, view, is_descending=True)
