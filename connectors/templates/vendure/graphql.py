"""A small GraphQL client for Vendure's Admin API over ``ConnectorHttp``: login, bearer token, errors.

Vendure answers most failures with HTTP 200 and an ``errors`` list; those become ``AuthError`` when
the code says the session is not allowed (FORBIDDEN, UNAUTHORIZED) and ``PermanentError`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError, PermanentError, TransientError
from connectors.sdk.http import ConnectorHttp, excerpt
from connectors.templates.vendure import operations

AUTH_TOKEN_HEADER = "vendure-auth-token"  # noqa: S105 - a header name
CHANNEL_TOKEN_HEADER = "vendure-token"  # noqa: S105 - a header name
AUTH_CODES = frozenset({"FORBIDDEN", "UNAUTHORIZED"})


class GraphqlError(PermanentError):
    """Vendure refused an operation; ``codes`` are the ``extensions.code`` of each error."""

    def __init__(self, message: str, codes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.codes = codes


def error_of(errors: list[Mapping[str, Any]], operation: str) -> AuthError | GraphqlError:
    """The connector error for a GraphQL ``errors`` list."""
    codes = tuple(str((e.get("extensions") or {}).get("code", "")) for e in errors)
    messages = "; ".join(str(e.get("message", "unknown error")) for e in errors)
    if AUTH_CODES.intersection(codes):
        return AuthError(f"Vendure refused {operation}: {messages}", status=403)
    return GraphqlError(f"Vendure rejected {operation}: {messages}", codes)


@dataclass(frozen=True, slots=True)
class VendureCredentials:
    username: str
    password: str


class VendureGraphql:
    """Admin API calls with a session token obtained by ``login`` and cached in the token store."""

    def __init__(
        self,
        context: ConnectorContext,
        *,
        base_url: str,
        admin_api_path: str,
        credentials: VendureCredentials,
        channel_token: str | None = None,
        language_code: str = "en",
    ) -> None:
        headers = {CHANNEL_TOKEN_HEADER: channel_token} if channel_token else {}
        self.http = ConnectorHttp(context, base_url=base_url, headers=headers)
        self._context = context
        self._path = "/" + admin_api_path.strip("/")
        self._params = {"languageCode": language_code}
        self._credentials = credentials
        self._token_key = f"{context.key}:vendure-session"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, query: str, variables: Mapping[str, Any], token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.request(
            "POST",
            self._path,
            params=self._params,
            json={"query": query, "variables": dict(variables)},
            headers=headers,
        )

    @staticmethod
    def _body(response: httpx.Response, operation: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise TransientError(f"Vendure answered {operation} with non-JSON: {excerpt(response)}") from None
        if not isinstance(body, dict):
            raise TransientError(f"Vendure answered {operation} with {type(body).__name__}, not an object")
        if body.get("errors"):
            raise error_of(body["errors"], operation)
        data = body.get("data")
        if not isinstance(data, dict):
            raise TransientError(f"Vendure answered {operation} without data: {excerpt(response)}")
        return data

    async def login(self) -> str:
        """Log in with the configured credentials; the session token comes back in a response header."""
        variables = {"username": self._credentials.username, "password": self._credentials.password}
        response = await self._post(operations.LOGIN, variables, token=None)
        result = self._body(response, "login")["login"]
        if result.get("__typename") != "CurrentUser":
            reason = result.get("message") or result.get("errorCode") or "unknown reason"
            raise AuthError(f"Vendure rejected the username or password ({reason})", status=401)
        token: str | None = response.headers.get(AUTH_TOKEN_HEADER)
        if not token:
            raise AuthError(
                f"Vendure accepted the login but sent no {AUTH_TOKEN_HEADER} header; "
                "the server must allow authOptions.tokenMethod 'bearer'"
            )
        return token

    async def _token(self, *, stale: str | None = None) -> str:
        """The cached session token; logs in (once across callers) when there is none or it is ``stale``."""
        store = self._context.token_store
        async with store.single_flight(self._token_key):
            cached = await store.load(self._token_key)
            token = (cached or {}).get("access_token")
            if isinstance(token, str) and token and token != stale:
                return token
            token = await self.login()
            await store.save(self._token_key, {"access_token": token})
            return token

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None, *, operation: str) -> Any:
        """Run ``query`` and return its ``data``; a session Vendure no longer accepts is renewed once."""
        token = await self._token()
        try:
            return self._body(await self._post(query, variables or {}, token), operation)
        except AuthError:
            # Sessions expire or are revoked server-side; a fresh login tells a stale token from
            # credentials that no longer work (which login reports itself).
            token = await self._token(stale=token)
            return self._body(await self._post(query, variables or {}, token), operation)
