"""OAuth2 tokens of a connection: refreshed once across workers (a Redis lock), kept sealed in
PostgreSQL, and a refused refresh marks the connection as needing re-authorisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from app.connections.models import Connection
from app.connections.service import create_connection, read_secrets
from app.connections.tokens import TOKEN_SECRET, ConnectionTokenStore
from app.crypto import SecretBox
from app.database.engine import Database
from app.database.scope import DbScope
from app.settings import Settings
from connectors.sandboxes.oauth import DEFAULT_CLIENTS, DEFAULT_CODE, create_app
from connectors.sdk.auth import OAuth2Auth, OAuth2Settings
from connectors.sdk.errors import AuthError
from connectors.sdk.network import NetworkPolicy
from tests.connectors.serving import serve
from tests.factories import World

CLIENT_ID, CLIENT_SECRET = next(iter(DEFAULT_CLIENTS.items()))


@pytest.fixture
async def provider() -> AsyncIterator[str]:
    async with serve(create_app(expires_in=600)) as url:
        yield url


@pytest.fixture
async def connection(world: World, db: Database, settings: Settings, tmp_path: Path) -> Connection:
    async with db.transaction(DbScope.system()) as session:
        return await create_connection(
            session,
            SecretBox.from_settings(settings),
            folder=tmp_path,
            network=NetworkPolicy.permissive(),
            tenant_id=world.tenant_a1.id,
            partner_id=world.partner_a.id,
            name="orders in",
            template_key="webhook",
            values={"secret": "a-webhook-secret-of-some-length"},
            now=datetime.now(UTC),
        )


def store(db: Database, redis: Redis, settings: Settings, world: World) -> ConnectionTokenStore:
    scope = DbScope.for_tenant(world.tenant_a1.id, world.partner_a.id)
    return ConnectionTokenStore(db, redis, SecretBox.from_settings(settings), scope)


def auth(provider: str, grant: str, token_store: ConnectionTokenStore, connection: Connection) -> OAuth2Auth:
    settings = OAuth2Settings(
        token_url=f"{provider}/oauth/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        grant=grant,  # type: ignore[arg-type]
    )
    return OAuth2Auth(settings, store=token_store, key=str(connection.id))


async def stored(db: Database, settings: Settings, connection: Connection) -> Connection:
    async with db.transaction(DbScope.system()) as session:
        row = await session.get(Connection, connection.id)
        assert row is not None
        return row


class TestSingleFlight:
    async def test_two_workers_fetch_one_token_and_keep_it_sealed(
        self,
        provider: str,
        connection: Connection,
        db: Database,
        redis: Redis,
        settings: Settings,
        world: World,
    ) -> None:
        # Two "workers": separate stores and auth flows, sharing only PostgreSQL and Redis.
        workers = [
            auth(provider, "client_credentials", store(db, redis, settings, world), connection)
            for _ in range(2)
        ]
        tokens = await asyncio.gather(*(workers[i % 2].access_token() for i in range(10)))
        assert len(set(tokens)) == 1
        async with httpx.AsyncClient(base_url=provider) as client:
            stats = (await client.get("/_sandbox/oauth/stats")).json()
        assert stats["grants"] == {"client_credentials": 1}
        row = await stored(db, settings, connection)
        assert row.secrets_sealed is not None
        assert tokens[0] not in row.secrets_sealed
        secrets = read_secrets(SecretBox.from_settings(settings), row)
        assert secrets[TOKEN_SECRET]["access_token"] == tokens[0]
        assert secrets["secret"] == "a-webhook-secret-of-some-length"  # the other secrets are kept


class TestRefusedRefresh:
    async def test_marks_the_connection_for_reauthorisation(
        self,
        provider: str,
        connection: Connection,
        db: Database,
        redis: Redis,
        settings: Settings,
        world: World,
    ) -> None:
        token_store = store(db, redis, settings, world)
        async with httpx.AsyncClient(base_url=provider) as client:
            granted = await client.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": DEFAULT_CODE,
                    "redirect_uri": "https://x.example/cb",
                },
                auth=(CLIENT_ID, CLIENT_SECRET),
            )
            token = granted.json()
            await token_store.save(str(connection.id), token | {"expires_at": time.time() - 10})
            await client.post("/_sandbox/oauth/revoke", json={})
        with pytest.raises(AuthError, match="invalid_grant"):
            await auth(provider, "authorization_code", token_store, connection).access_token()
        row = await stored(db, settings, connection)
        assert row.status == "needs_reauthorisation"
        assert row.status_reason is not None
        assert "invalid_grant" in row.status_reason
