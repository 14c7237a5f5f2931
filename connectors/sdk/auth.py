"""Authentication schemes a template can use, as ``httpx.Auth`` flows.

API key (header or query), HTTP basic, static bearer, and OAuth2 (client credentials, and authorization
code with refresh) through authlib. OAuth2 tokens are cached in a ``TokenStore`` and refreshed
single-flight; a refresh the provider rejects marks the connection as needing re-authorisation and
raises ``AuthError`` instead of retrying forever.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal

import authlib.deprecate  # noqa: F401 - installs an "always" filter, which must come before ours
import httpx

with warnings.catch_warnings():
    # authlib 1.9 announces that its httpx integration moves to the httpx2 package; it works as is.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from connectors.sdk.errors import AuthError
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.tokens import TokenStore

AuthKind = Literal[
    "none", "api_key", "basic", "bearer", "oauth2_client_credentials", "oauth2_authorization_code"
]
EXPIRY_MARGIN_SECONDS = 60


class ApiKeyAuth(httpx.Auth):
    """``header: X-Api-Key`` (default) or ``query: api_key`` carrying the key."""

    def __init__(self, key: str, *, header: str | None = "X-Api-Key", query: str | None = None) -> None:
        self._key, self._header, self._query = key, header, query

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._query:
            request.url = request.url.copy_merge_params({self._query: self._key})
        else:
            assert self._header
            request.headers[self._header] = self._key
        yield request


class BearerAuth(httpx.Auth):
    def __init__(self, token: str, *, scheme: str = "Bearer") -> None:
        self._value = f"{scheme} {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request


@dataclass(frozen=True, slots=True)
class OAuth2Settings:
    token_url: str
    client_id: str
    client_secret: str
    grant: Literal["client_credentials", "authorization_code"]
    scope: str | None = None
    authorize_url: str | None = None


class OAuth2Auth(httpx.Auth):
    """Bearer tokens from an OAuth2 provider, fetched or refreshed on demand, retried once on 401."""

    def __init__(
        self,
        settings: OAuth2Settings,
        *,
        store: TokenStore,
        key: str,
        now: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        network: NetworkPolicy | None = None,
    ) -> None:
        self._settings, self._store, self._key, self._now = settings, store, key, now
        self._transport = transport
        self._network = network

    def _is_fresh(self, token: dict[str, Any] | None) -> bool:
        if not token or "access_token" not in token:
            return False
        expires_at = token.get("expires_at")
        return expires_at is None or float(expires_at) - EXPIRY_MARGIN_SECONDS > self._now()

    async def access_token(self, *, force: bool = False) -> str:
        token = await self._store.load(self._key)
        if not force and self._is_fresh(token):
            assert token is not None
            return str(token["access_token"])
        stale = token.get("access_token") if token else None
        async with self._store.single_flight(self._key):
            token = await self._store.load(self._key)
            if self._is_fresh(token) and (not force or (token or {}).get("access_token") != stale):
                assert token is not None
                return str(token["access_token"])
            token = await self._obtain(token)
            await self._store.save(self._key, token)
            return str(token["access_token"])

    async def _obtain(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        s = self._settings
        if self._network is not None:
            await self._network.check_url(s.token_url)  # the token URL is config too: same SSRF rules
        client = AsyncOAuth2Client(
            client_id=s.client_id, client_secret=s.client_secret, scope=s.scope, transport=self._transport
        )
        try:
            async with client:
                if s.grant == "client_credentials":
                    fetched = await client.fetch_token(s.token_url, grant_type="client_credentials")
                else:
                    refresh = (previous or {}).get("refresh_token")
                    if not refresh:
                        raise AuthError("no refresh token: the connection needs to be authorised again")
                    fetched = await client.refresh_token(s.token_url, refresh_token=refresh)
        except OAuthError as error:
            reason = f"the OAuth2 provider refused the token request: {error.error}"
            await self._store.mark_needs_reauthorisation(self._key, reason)
            raise AuthError(reason) from None
        except httpx.HTTPError as error:
            raise AuthError(f"cannot reach the OAuth2 token endpoint: {error}") from None
        token = dict(fetched)
        if "refresh_token" not in token and previous and previous.get("refresh_token"):
            token["refresh_token"] = previous["refresh_token"]
        return token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.access_token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.access_token(force=True)}"
            yield request


def authorization_url(settings: OAuth2Settings, redirect_uri: str, state: str) -> str:
    """Where to send a user to grant access (the authorization-code grant's first leg)."""
    if not settings.authorize_url:
        raise AuthError("this template has no authorization URL")
    client = AsyncOAuth2Client(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        scope=settings.scope,
        redirect_uri=redirect_uri,
    )
    url, _ = client.create_authorization_url(settings.authorize_url, state=state)
    return str(url)


async def exchange_code(
    settings: OAuth2Settings,
    *,
    code: str,
    redirect_uri: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """The token for an authorization code returned to ``redirect_uri``."""
    client = AsyncOAuth2Client(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uri=redirect_uri,
        transport=transport,
    )
    try:
        async with client:
            return dict(await client.fetch_token(settings.token_url, code=code))
    except OAuthError as error:
        raise AuthError(f"the OAuth2 provider refused the code: {error.error}") from None
