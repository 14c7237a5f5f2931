"""The Admin GraphQL client: one POST per operation, with the access token, cost throttling and errors.

HTTP-level failures (401, 429 + Retry-After, 5xx) are ``ConnectorHttp``'s; this adds Shopify's own
in-band ones: ``THROTTLED`` answers (waited out and retried) and other GraphQL errors (``PermanentError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError, PermanentError, RateLimitError
from connectors.sdk.http import ConnectorHttp
from connectors.templates.shopify.throttle import CostThrottle, is_throttled

MAX_THROTTLED_RETRIES = 5
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 - a header name, not a secret


class ShopifyGraphql:
    def __init__(
        self, context: ConnectorContext, *, shop_url: str, access_token: str, api_version: str
    ) -> None:
        self._http = ConnectorHttp(context, base_url=shop_url, headers={ACCESS_TOKEN_HEADER: access_token})
        self._path = f"/admin/api/{api_version}/graphql.json"
        self._sleep = context.sleep
        self.throttle = CostThrottle(clock=lambda: context.now().timestamp(), sleep=context.sleep)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of ``document`` run with ``variables``; raises a ``ConnectorError`` otherwise."""
        payload = {"query": document, "variables": dict(variables or {})}
        for _ in range(MAX_THROTTLED_RETRIES + 1):
            await self.throttle.before(document)
            body = await self._http.json("POST", self._path, json=payload)
            if not isinstance(body, dict):
                raise PermanentError(
                    f"Shopify answered {self._path} with {type(body).__name__}, not an object"
                )
            self.throttle.record(document, body)
            errors = body.get("errors")
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise PermanentError(f"Shopify answered {self._path} without data")
                return data
            if is_throttled(errors):
                await self._sleep(self.throttle.throttled_wait(body))
                continue
            raise self._failure(errors)
        raise RateLimitError(
            f"Shopify kept throttling after {MAX_THROTTLED_RETRIES} waits",
            retry_after=self.throttle.throttled_wait({}),
            status=200,
        )

    def _failure(self, errors: Any) -> PermanentError | AuthError:
        if isinstance(errors, str):
            # Shopify's plain-string errors are about the request as a whole (auth, unknown API version).
            return PermanentError(f"Shopify refused the request: {errors}")
        messages = [e.get("message", str(e)) if isinstance(e, Mapping) else str(e) for e in errors]
        codes = {
            e["extensions"].get("code")
            for e in errors
            if isinstance(e, Mapping) and isinstance(e.get("extensions"), Mapping)
        }
        if "ACCESS_DENIED" in codes:
            return AuthError(f"Shopify denied access (missing scope?): {'; '.join(messages)}")
        return PermanentError(f"Shopify rejected the query: {'; '.join(messages)}")
