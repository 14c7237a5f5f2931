"""The provenance every canonical record carries: where it came from, which version, which request."""

from __future__ import annotations

from typing import Annotated

import msgspec

Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^\S(.*\S)?\Z")]
"""A stock-keeping unit: 1–128 characters, no leading or trailing blanks."""

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
"""An identifier chosen by a retailer: a location code, a price list, a channel, an order number."""


class Record(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields shared by all canonical records.

    ``source_version`` grows with each change at the source (a sequence number, or the change time in
    epoch microseconds); an update older than the stored version is skipped, never applied.
    """

    source: str | None = None
    source_id: str | None = None
    source_version: Annotated[int, msgspec.Meta(ge=0)] | None = None
    correlation_id: str | None = None
