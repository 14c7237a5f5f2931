"""The HTTP client every REST and GraphQL connector uses.

Before each request: the network policy (SSRF) and the rate limiter. After: 401/403 become
``AuthError``; 429 and 5xx are retried up to ``max_attempts`` times honouring ``Retry-After`` (seconds
or an HTTP date; one longer than the context's ``max_retry_wait`` is raised at once) with exponential
backoff and jitter, then raised as ``RateLimitError``/``TransientError``;
other 4xx become ``PermanentError`` with the body's first 300 characters.
"""

from __future__ import annotations

import functools
import random
import ssl
from email.utils import parsedate_to_datetime
from typing import Any

import certifi
import httpx

from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError, PermanentError, RateLimitError, TransientError

BASE_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 30.0
CORRELATION_HEADER = "X-Correlation-Id"


def retry_after_seconds(value: str | None, now_timestamp: float) -> float | None:
    """Parse ``Retry-After``: delta seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - now_timestamp, 0.0)
    except (TypeError, ValueError):
        return None


def backoff_seconds(attempt: int) -> float:
    """Full jitter: a random delay up to 0.2 s × 2^attempt, at most 30 s."""
    return random.uniform(0, min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2**attempt))


def excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every client: building one loads the CA bundle
    (about 50 ms), which a worker opening a client per batch paid on every batch."""
    return ssl.create_default_context(cafile=certifi.where())


class ConnectorHttp:
    def __init__(
        self,
        context: ConnectorContext,
        *,
        base_url: str,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._context = context
        self._base_url = base_url.rstrip("/")
        all_headers = {"User-Agent": "Shelfsync/1.0", **(headers or {})}
        if context.correlation_id:
            all_headers[CORRELATION_HEADER] = context.correlation_id
        self.client = httpx.AsyncClient(
            base_url=self._base_url,
            auth=auth,
            headers=all_headers,
            timeout=timeout,
            transport=context.transport,
            follow_redirects=False,
            verify=tls_context(),
        )
        self._checked_base = False

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _check_network(self, url: str) -> None:
        absolute = url if "://" in url else self._base_url + "/" + url.lstrip("/")
        if absolute == self._base_url or absolute.startswith(self._base_url + "/"):
            if self._checked_base:
                return
            self._checked_base = True
        await self._context.network.check_url(absolute)

    async def request(self, method: str, url: str, *, cost: float = 1.0, **kwargs: Any) -> httpx.Response:
        """Send a request; return the 2xx/3xx response or raise a ``ConnectorError``."""
        await self._check_network(url)
        attempts = max(self._context.max_attempts, 1)
        for attempt in range(attempts):
            if self._context.rate_limiter is not None:
                await self._context.rate_limiter.acquire(cost)
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.TimeoutException as error:
                failure: TransientError = TransientError(f"{method} {url} timed out: {error!r}")
            except httpx.TransportError as error:
                failure = TransientError(f"{method} {url} failed: {error!r}")
            else:
                if response.status_code < 400:
                    return response
                failure = self.failure_of(response)
                if not failure.retryable:
                    raise failure
            if attempt + 1 == attempts or self._waits_too_long(failure):
                raise failure
            delay = failure.retry_after if isinstance(failure, RateLimitError) else backoff_seconds(attempt)
            await self._context.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _waits_too_long(self, failure: TransientError) -> bool:
        limit = self._context.max_retry_wait
        return isinstance(failure, RateLimitError) and limit is not None and failure.retry_after > limit

    def failure_of(self, response: httpx.Response) -> Any:
        """The error for a ≥ 400 response (returned, not raised, so callers can decide)."""
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status in (401, 403):
            return AuthError(f"{where}: credentials rejected ({status}): {excerpt(response)}", status=status)
        if status == 429:
            now = self._context.now().timestamp()
            wait = retry_after_seconds(response.headers.get("Retry-After"), now)
            return RateLimitError(
                f"{where}: rate limited (429), retry after {wait if wait is not None else 'unknown'} s",
                retry_after=wait if wait is not None else 1.0,
            )
        if status >= 500:
            return TransientError(f"{where}: server error {status}: {excerpt(response)}", status=status)
        return PermanentError(f"{where}: rejected ({status}): {excerpt(response)}", status=status)

    async def json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.request(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"{method} {url}: response is not JSON: {excerpt(response)}") from None
