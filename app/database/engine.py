"""Engines and session factories: one for the application role, one for the schema owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.database.scope import DbScope
from app.settings import Settings

APP_ROLE = "shelfsync_app"
"""The role the application runs as: granted table privileges, owns nothing, so RLS applies."""

WORKER_STATEMENT_TIMEOUT_SECONDS = 30.0
"""How long a worker waits for one statement's answer: bulk work (a 250,000-SKU publish) runs long ones."""

PING_TIMEOUT_SECONDS = 1.0
"""A pooled connection that does not answer ``SELECT 1`` this fast is replaced before it is used: its link
has gone silent (a partition), and a request should not learn that by waiting out a statement timeout."""


def async_url(url: str) -> str:
    """Turn a ``postgresql://`` URL into SQLAlchemy's asyncpg form."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def owner_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    """Engine connecting as the schema owner (migrations, test set-up)."""
    assert settings.database_url, "services must be resolved before engines are made"
    return create_async_engine(
        async_url(settings.database_url),
        connect_args={"server_settings": {"jit": "off", "application_name": "shelfsync-owner"}},
        **kwargs,
    )


def app_engine(
    settings: Settings, *, statement_timeout: float = WORKER_STATEMENT_TIMEOUT_SECONDS, **kwargs: Any
) -> AsyncEngine:
    """Engine the application uses: ``DATABASE_APP_URL``, or the owner URL switched to the app role.

    Every wait on PostgreSQL is bounded, so an unreachable server fails fast instead of hanging: opening
    a connection (``DATABASE_CONNECT_TIMEOUT``), checking a pooled one (``PING_TIMEOUT_SECONDS``) and
    each statement (``statement_timeout``; the web passes ``DATABASE_STATEMENT_TIMEOUT``)."""
    assert settings.database_url, "services must be resolved before engines are made"
    server_settings = {"jit": "off", "application_name": "shelfsync"}
    if settings.database_app_url:
        url = settings.database_app_url
    else:
        url = settings.database_url
        server_settings["role"] = APP_ROLE
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(
        async_url(url),
        connect_args={
            "server_settings": server_settings,
            "timeout": settings.database_connect_timeout,
            "command_timeout": statement_timeout,
        },
        **kwargs,
    )
    # instead of pool_pre_ping, which waits as long as any statement (the command timeout)
    event.listen(engine.sync_engine, "checkout", _ping_on_checkout)
    return engine


def _ping_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Check a pooled connection before handing it out; a silent one is replaced (the pool reconnects on
    ``DisconnectionError``, within the connect timeout)."""
    try:
        dbapi_connection.run_async(
            lambda connection: connection.fetchval("SELECT 1", timeout=PING_TIMEOUT_SECONDS)
        )
    except Exception as error:
        # dropped at once: a graceful close would wait on the silent peer too (two more seconds)
        dbapi_connection.driver_connection.terminate()
        raise DisconnectionError(f"pooled connection did not answer: {type(error).__name__}") from error


@dataclass(frozen=True)
class Database:
    """The application's engine and a factory for sessions bound to a scope."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def from_engine(cls, engine: AsyncEngine) -> Database:
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    @asynccontextmanager
    async def session(self, scope: DbScope) -> AsyncIterator[AsyncSession]:
        """A session whose every transaction runs under ``scope``."""
        async with self.sessionmaker() as session:
            session.info["scope"] = scope
            yield session

    @asynccontextmanager
    async def transaction(self, scope: DbScope) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction under ``scope``: committed on success, else rolled back."""
        async with self.session(scope) as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
