"""File names: ``<prefix>_<group>_<YYYYMMDDTHHMMSS>.<ext>`` on the way out, and their order on the way in.

Inbound files are taken in order of the timestamp in their name (their modification time when the
name has none), then by name. The read cursor is ``<timestamp>|<name>`` of the last file processed,
so files sorted after it, and only those, are new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from connectors.templates.flatfile.destinations import RemoteFile

STAMP_FORMAT = "%Y%m%dT%H%M%S"
_STAMP = re.compile(r"(\d{8}T\d{6})(?:-(\d+))?")
"""A time stamp in a file name, with the ``-2``, ``-3``… a second file in the same second gets."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

FileKey = tuple[str, str]


def safe_part(text: str) -> str:
    """``text`` usable inside a file name on any server: other characters become ``-``."""
    return _UNSAFE.sub("-", text).strip(".-") or "unknown"


def file_name(prefix: str, group: str, when: datetime, extension: str = "csv") -> str:
    stamp = when.astimezone(UTC).strftime(STAMP_FORMAT)
    return f"{prefix}_{safe_part(group)}_{stamp}.{extension}"


def group_of(name: str) -> str:
    """The part of a file name that names its store or region series: the name without its time stamp
    (``prices_S001_20240501T120000-2.csv`` → ``prices_S001.csv``)."""
    return _STAMP.sub("", name).replace("_.", ".")


def order_of(key: FileKey) -> tuple[str, int, str]:
    """Files in the order they were written: by time stamp, then by the same-second counter (``-2``
    after none), then by name."""
    found = _STAMP.search(key[1])
    counter = int(found.group(2)) if found and found.group(2) else 1
    return (key[0], counter, key[1])


def file_key(file: RemoteFile) -> FileKey:
    found = _STAMP.search(file.name)
    stamp = found.group(1) if found else file.modified.astimezone(UTC).strftime(STAMP_FORMAT)
    return (stamp, file.name)


def encode_cursor(key: FileKey) -> str:
    return f"{key[0]}|{key[1]}"


def decode_cursor(cursor: str | None) -> FileKey | None:
    if not cursor:
        return None
    stamp, bar, name = cursor.partition("|")
    if bar:
        return (stamp, name)
    # A bare file name (written by hand, say): take the stamp from the name itself.
    found = _STAMP.search(cursor)
    return (found.group(1) if found else "", cursor)


def files_after(
    files: Iterable[RemoteFile], cursor: str | None, suffixes: tuple[str, ...]
) -> list[RemoteFile]:
    """The files with one of ``suffixes`` (any when empty) sorted after ``cursor``, oldest first."""
    after = decode_cursor(cursor)
    chosen = [
        f
        for f in files
        if (not suffixes or f.name.lower().endswith(suffixes))
        and (after is None or order_of(file_key(f)) > order_of(after))
    ]
    return sorted(chosen, key=lambda f: order_of(file_key(f)))
