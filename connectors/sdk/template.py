"""The contract every connector template fulfils, whether written as a class or as a manifest.

A template is a class: its class attributes declare what it is (key, kind, domains, config schema,
auth, rate limit); an instance is bound to one connection's ``ConnectorContext`` and implements
``test_connection``, ``read`` and ``write``.

- ``read(domain, cursor=None)`` yields pages of source payloads. Without a cursor it is a full read;
  with one, only what changed since. Each page's ``cursor`` is what to store to resume after it.
- ``read_back(domain)`` reads what the destination holds of what was written (a full ``read`` unless
  the template says otherwise), so a deployment can be verified.
- ``write(domain, payloads)`` sends a batch of destination payloads (recipe output) and returns one
  ``WriteResult`` per payload, in order. A malformed record fails alone; a rejected credential or an
  exhausted rate limit raises for the whole batch.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self

from connectors.sdk.auth import AuthKind
from connectors.sdk.config import apply_defaults, validate_config
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import ConnectorError, PermanentError
from connectors.sdk.ratelimit import RateLimit
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult


class ConnectorTemplate(ABC):
    key: ClassVar[str]
    """Stable identifier, e.g. ``vendure``; stored on connections."""
    name: ClassVar[str]
    kind: ClassVar[Kind]
    reads: ClassVar[frozenset[Domain]] = frozenset()
    writes: ClassVar[frozenset[Domain]] = frozenset()
    config_schema: ClassVar[dict[str, Any]]
    """JSON Schema (2020-12) of the connection config; secrets carry ``writeOnly: true``."""
    auth: ClassVar[tuple[AuthKind, ...]] = ("none",)
    rate_limit: ClassVar[RateLimit] = RateLimit(rate=10, burst=20)
    batch_size: ClassVar[int] = 100
    """The largest batch ``write`` accepts; the engine splits bigger ones."""
    version: ClassVar[str] = "1"

    def __init__(self, context: ConnectorContext) -> None:
        merged = apply_defaults(self.config_schema, {**context.config, **context.secrets})
        validate_config(self.config_schema, merged)
        self.context = context
        self.settings: Mapping[str, Any] = merged

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:  # noqa: B027 - most templates hold nothing to release
        """Release clients and sessions."""

    @abstractmethod
    async def test_connection(self) -> ConnectionCheck:
        """Reach the system with the configured credentials; say plainly what is wrong if it fails."""

    def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        raise PermanentError(f"{self.name} cannot read {domain.value}")

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        raise PermanentError(f"{self.name} cannot write {domain.value}")

    def read_back(self, domain: Domain) -> AsyncIterator[ReadPage]:
        """What the destination holds now of what was written to it, to verify a write by reading it
        back. Most systems answer with a full ``read``; a file drop answers with the files it was given."""
        return self.read(domain)

    def check_domain(self, domain: Domain, *, writing: bool) -> None:
        allowed = self.writes if writing else self.reads
        if domain not in allowed:
            verb = "write" if writing else "read"
            raise PermanentError(f"{self.name} cannot {verb} {domain.value}")

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The template as the API and portal show it."""
        return {
            "key": cls.key,
            "name": cls.name,
            "kind": cls.kind.value,
            "reads": sorted(d.value for d in cls.reads),
            "writes": sorted(d.value for d in cls.writes),
            "config_schema": cls.config_schema,
            "auth": list(cls.auth),
            "rate_limit": {"rate": cls.rate_limit.rate, "burst": cls.rate_limit.burst},
            "batch_size": cls.batch_size,
            "version": cls.version,
        }


async def check_connection(template: ConnectorTemplate) -> ConnectionCheck:
    """``test_connection`` with every connector error turned into a failed check that says why."""
    started = time.perf_counter()
    try:
        check = await template.test_connection()
    except ConnectorError as error:
        return ConnectionCheck(ok=False, detail=error.message, latency_ms=_ms_since(started))
    if check.latency_ms is None:
        return ConnectionCheck(ok=check.ok, detail=check.detail, latency_ms=_ms_since(started))
    return check


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
