"""Errors a connector raises for a whole call; per-record problems are ``WriteResult``s instead."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class. ``retryable`` tells the engine whether trying again later can help."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ConfigError(ConnectorError):
    """The connection's configuration is invalid; ``problems`` lists (path, reason) pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class AuthError(ConnectorError):
    """The remote system rejected the credentials (401/403, bad login, refresh token revoked)."""


class NetworkPolicyError(ConnectorError):
    """The URL points at a private or loopback address that the network policy does not allow."""


class PermanentError(ConnectorError):
    """A request the remote system will never accept as sent (4xx other than auth and 429)."""


class TransientError(ConnectorError):
    """A failure that may pass: 5xx, timeouts, connection resets."""

    retryable = True


class RateLimitError(TransientError):
    """The remote system asked us to slow down; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
