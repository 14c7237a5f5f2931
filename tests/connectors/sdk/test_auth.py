"""OAuth2 through authlib against the provider sandbox: both grants, rotating refresh tokens, one
refresh for many waiting requests, a refused refresh, and one retry after a 401."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from connectors.sandboxes import oauth, rest
from connectors.sdk.auth import OAuth2Auth, OAuth2Settings, authorization_url, exchange_code
from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.tokens import LocalTokenStore
from tests.connectors.recording import RecordingSleep
from tests.connectors.serving import serve

CLIENT_ID, CLIENT_SECRET = "shelfsync", "sandbox-client-secret"
REDIRECT = "https://portal.example.com/oauth/callback"
KEY = "connection-1"


def settings(provider: str, grant: str = "client_credentials") -> OAuth2Settings:
    return OAuth2Settings(
        token_url=f"{provider}/oauth/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant=grant,  # type: ignore[arg-type]
        authorize_url=f"{provider}/oauth/authorize",
    )


def http_with(api: str, auth: OAuth2Auth, sleeps: RecordingSleep) -> ConnectorHttp:
    context = ConnectorContext(config={}, network=NetworkPolicy.permissive(), sleep=sleeps)
    return ConnectorHttp(context, base_url=api, auth=auth)


async def token_requests(provider: str) -> int:
    async with httpx.AsyncClient(base_url=provider) as client:
        count: int = (await client.get("/_sandbox/oauth/stats")).json()["token_requests"]
        return count


async def authorised_token(provider: str) -> dict[str, Any]:
    """Walk the authorization-code grant: authorize (redirect with a code), then exchange the code."""
    url = authorization_url(settings(provider, "authorization_code"), REDIRECT, state="s-1")
    async with httpx.AsyncClient() as browser:
        redirect = await browser.get(url)
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert str(location).startswith(REDIRECT)
    assert location.params["state"] == "s-1"
    return await exchange_code(
        settings(provider, "authorization_code"), code=location.params["code"], redirect_uri=REDIRECT
    )


class TestClientCredentials:
    async def test_token_fetched_once_and_reused(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        store = LocalTokenStore()
        http = http_with(oauth_api, OAuth2Auth(settings(provider), store=store, key=KEY), sleeps)
        first = await http.json("GET", "/whoami")
        await http.json("GET", "/whoami")
        await http.aclose()
        assert first["principal"] == CLIENT_ID
        assert await token_requests(provider) == 1
        saved = await store.load(KEY)
        assert saved is not None
        assert saved["expires_at"] > time.time()

    async def test_wrong_client_secret_is_auth_error(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        wrong = OAuth2Settings(
            token_url=f"{provider}/oauth/token",
            client_id=CLIENT_ID,
            client_secret="x",
            grant="client_credentials",
        )
        store = LocalTokenStore()
        http = http_with(oauth_api, OAuth2Auth(wrong, store=store, key=KEY), sleeps)
        with pytest.raises(AuthError, match="invalid_client"):
            await http.request("GET", "/whoami")
        await http.aclose()


class TestAuthorizationCode:
    async def test_refresh_rotates_the_refresh_token(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        token = await authorised_token(provider)
        assert token["refresh_token"]
        store = LocalTokenStore()
        await store.save(KEY, {**token, "expires_at": time.time() - 5})
        auth = OAuth2Auth(settings(provider, "authorization_code"), store=store, key=KEY)
        http = http_with(oauth_api, auth, sleeps)
        assert (await http.json("GET", "/whoami"))["principal"] == CLIENT_ID
        await http.aclose()
        refreshed = await store.load(KEY)
        assert refreshed is not None
        assert refreshed["refresh_token"] != token["refresh_token"]
        async with httpx.AsyncClient() as client:
            replay = await client.post(
                f"{provider}/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                auth=(CLIENT_ID, CLIENT_SECRET),
            )
        assert replay.json()["error"] == "invalid_grant"  # the old one was used up

    async def test_twenty_waiting_requests_share_one_refresh(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        token = await authorised_token(provider)
        store = LocalTokenStore()
        await store.save(KEY, {**token, "expires_at": time.time() - 5})
        before = await token_requests(provider)
        http = http_with(
            oauth_api, OAuth2Auth(settings(provider, "authorization_code"), store=store, key=KEY), sleeps
        )
        responses = await asyncio.gather(*(http.request("GET", "/whoami") for _ in range(20)))
        await http.aclose()
        assert [r.status_code for r in responses] == [200] * 20
        # A second refresh would have used a rotated-out token and failed: exactly one happened.
        assert await token_requests(provider) - before == 1

    async def test_refused_refresh_needs_reauthorisation(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        token = await authorised_token(provider)
        async with httpx.AsyncClient(base_url=provider) as client:
            await client.post("/_sandbox/oauth/revoke", json={"refresh_token": token["refresh_token"]})
        store = LocalTokenStore()
        await store.save(KEY, {**token, "expires_at": time.time() - 5})
        http = http_with(
            oauth_api, OAuth2Auth(settings(provider, "authorization_code"), store=store, key=KEY), sleeps
        )
        with pytest.raises(AuthError, match="invalid_grant"):
            await http.request("GET", "/whoami")
        await http.aclose()
        assert "invalid_grant" in store.needs_reauthorisation[KEY]

    async def test_no_refresh_token_needs_authorising_again(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        store = LocalTokenStore()
        http = http_with(
            oauth_api, OAuth2Auth(settings(provider, "authorization_code"), store=store, key=KEY), sleeps
        )
        with pytest.raises(AuthError, match="authorised again"):
            await http.request("GET", "/whoami")
        await http.aclose()


class TestRejectedAccessToken:
    async def test_401_forces_one_refresh_and_retry(
        self, provider: str, oauth_api: str, sleeps: RecordingSleep
    ) -> None:
        store = LocalTokenStore()
        # Fresh by its expiry, but the API no longer accepts it (revoked at the provider, say).
        await store.save(KEY, {"access_token": "revoked", "expires_at": time.time() + 3600})
        http = http_with(oauth_api, OAuth2Auth(settings(provider), store=store, key=KEY), sleeps)
        response = await http.request("GET", "/whoami")
        await http.aclose()
        assert response.status_code == 200
        assert await token_requests(provider) == 1
        saved = await store.load(KEY)
        assert saved is not None
        assert saved["access_token"] != "revoked"

    async def test_a_second_401_is_auth_error_not_a_loop(self, sleeps: RecordingSleep) -> None:
        # The API trusts a different signing key, so every token is refused.
        async with (
            serve(oauth.create_app(signing_secret="one")) as provider,
            serve(rest.create_app(auth="oauth2", signing_secret="two")) as api,
        ):
            http = http_with(api, OAuth2Auth(settings(provider), store=LocalTokenStore(), key=KEY), sleeps)
            with pytest.raises(AuthError, match=r"credentials rejected \(401\)"):
                await http.request("GET", "/whoami")
            await http.aclose()
            assert await token_requests(provider) == 2
