"""The connector SDK: what a connector template declares and implements, and the pieces it is built from.

A connector knows nothing of tenants or HTTP servers: it takes config, secrets, a rate limiter, a clock
and a network policy (``ConnectorContext``) and returns records and per-record results.
"""

from __future__ import annotations

from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain, Kind
from connectors.sdk.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    NetworkPolicyError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate

__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectionCheck",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorTemplate",
    "Domain",
    "Kind",
    "NetworkPolicyError",
    "PermanentError",
    "RateLimitError",
    "ReadPage",
    "TransientError",
    "WriteResult",
]
