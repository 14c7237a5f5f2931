"""Turning untrusted data into canonical records, with errors that name the field path."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_AT_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


class CanonicalError(ValueError):
    """A record that does not fit the canonical model; ``path`` is e.g. ``lines[0].quantity``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '(record)'}: {reason}")
        self.path = path
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


_FIELD_REASON = re.compile(
    r"^(?P<field>[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (?P<reason>.+)$", re.DOTALL
)


_NAMED_FIELD = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<field>[^`]+)`$")


def invalid(field: str, reason: str) -> ValueError:
    """The error a record's ``__post_init__`` raises; msgspec adds where the record sits."""
    return ValueError(f"{field}: {reason}")


def error_from_msgspec(error: msgspec.ValidationError, prefix: str = "") -> CanonicalError:
    """Split msgspec's "reason - at `$.a.b[0]`" message into a path and a reason."""
    match = _AT_PATH.match(str(error))
    assert match is not None  # the pattern matches any string
    path = (match.group("path") or "").lstrip(".")
    reason = match.group("reason")
    named = _NAMED_FIELD.match(reason)
    if named is not None:  # msgspec names a missing or unknown field in the reason; put it in the path
        path = _join(path, named.group("field"))
        reason = (
            "is required" if named.group("what") == "missing required" else "is not a field of this record"
        )
    field = _FIELD_REASON.match(reason)
    if field is not None:
        path = _join(path, field.group("field"))
        reason = field.group("reason")
    return CanonicalError(_join(prefix, path), reason)


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path or path.startswith("["):
        return prefix + path
    return f"{prefix}.{path}"


def parse(record_type: type[T], value: Any, *, strict: bool = False) -> T:
    """Validate ``value`` (decoded JSON: dicts, lists, strings, numbers) into ``record_type``.

    With ``strict=False`` strings are accepted for numbers, decimals and datetimes, as they arrive from
    CSV files, EDI and JSON where amounts are quoted.
    """
    try:
        return msgspec.convert(value, record_type, strict=strict)
    except msgspec.ValidationError as error:
        raise error_from_msgspec(error) from None


def parse_json(record_type: type[T], payload: bytes | str) -> T:
    """Decode and validate JSON in one pass."""
    try:
        return msgspec.json.decode(payload, type=record_type)
    except msgspec.ValidationError as error:
        raise error_from_msgspec(error) from None
    except msgspec.DecodeError as error:
        raise CanonicalError("", f"malformed JSON: {error}") from None


def to_builtins(record: Any) -> Any:
    """A canonical record as JSON-ready builtins (Decimals as strings, datetimes as ISO 8601)."""
    return msgspec.to_builtins(record)
