"""Login with Amazon: access tokens from a seller's refresh token, sent as SP-API's ``x-amz-access-token``.

Not ``OAuth2Auth``: LWA wants the client id and secret in the form body, and SP-API answers an expired
token with 403 (not 401) and reads the token from its own header. Caching and single-flight refresh use
the connection's ``TokenStore`` as ``OAuth2Auth`` does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.sdk.auth import EXPIRY_MARGIN_SECONDS
from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError, PermanentError
from connectors.sdk.http import ConnectorHttp

ACCESS_TOKEN_HEADER = "x-amz-access-token"  # noqa: S105 - a header name, not a secret


@dataclass(frozen=True, slots=True)
class LwaCredentials:
    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str


class LwaTokens:
    """Access tokens for one connection, refreshed single-flight through the context's token store."""

    def __init__(self, context: ConnectorContext, credentials: LwaCredentials) -> None:
        self._context = context
        self._credentials = credentials
        self._http = ConnectorHttp(context, base_url=credentials.token_url)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _is_fresh(self, token: dict[str, Any] | None) -> bool:
        if not token or "access_token" not in token:
            return False
        # A token obtained with another refresh token (the seller re-authorised) is not reused.
        if token.get("refresh_token") != self._credentials.refresh_token:
            return False
        expires_at = float(token.get("expires_at", 0))
        return expires_at - EXPIRY_MARGIN_SECONDS > self._context.now().timestamp()

    async def access_token(self, *, force: bool = False) -> str:
        store, key = self._context.token_store, self._context.key
        token = await store.load(key)
        if not force and self._is_fresh(token):
            assert token is not None
            return str(token["access_token"])
        stale = token.get("access_token") if token else None
        async with store.single_flight(key):
            token = await store.load(key)
            if self._is_fresh(token) and (not force or (token or {}).get("access_token") != stale):
                assert token is not None
                return str(token["access_token"])
            token = await self._obtain()
            await store.save(key, token)
            return str(token["access_token"])

    async def _obtain(self) -> dict[str, Any]:
        c = self._credentials
        form = {
            "grant_type": "refresh_token",
            "refresh_token": c.refresh_token,
            "client_id": c.client_id,
            "client_secret": c.client_secret,
        }
        try:
            body = await self._http.json("POST", c.token_url, data=form)
        except (AuthError, PermanentError) as error:
            reason = f"Login with Amazon refused the refresh token ({error.message})"
            await self._context.token_store.mark_needs_reauthorisation(self._context.key, reason)
            raise AuthError(reason, status=error.status) from None
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError("Login with Amazon answered without an access token")
        expires_in = float(body.get("expires_in", 3600))
        return {
            "access_token": body["access_token"],
            "expires_at": self._context.now().timestamp() + expires_in,
            "refresh_token": c.refresh_token,
        }


class SpApiAuth(httpx.Auth):
    """Puts the access token on each request; on a 403 refreshes once and tries again."""

    def __init__(self, tokens: LwaTokens) -> None:
        self._tokens = tokens

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers[ACCESS_TOKEN_HEADER] = await self._tokens.access_token()
        response = yield request
        if response.status_code == 403:
            request.headers[ACCESS_TOKEN_HEADER] = await self._tokens.access_token(force=True)
            yield request
