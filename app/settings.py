"""Typed settings read once from the environment; nothing else in Shelfsync reads ``os.environ``.

A missing or malformed value raises :class:`SettingsError` with one line that names the variable,
so the CLI can print it without a traceback.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

Environment = Literal["development", "production"]

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line naming the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Shelfsync is configured with. Each field documents its variable and default."""

    environment: Environment = "development"
    """``SHELFSYNC_ENV``: ``development`` (default) generates missing secrets under ``DATA_DIR``;
    ``production`` refuses to start without ``SECRET_KEY`` and ``ENCRYPTION_KEYS``."""

    database_url: str | None = None
    """``DATABASE_URL``: PostgreSQL URL of the role that owns the schema (runs migrations).
    Unset: an embedded PostgreSQL is started under ``DATA_DIR/postgres``."""

    database_app_url: str | None = None
    """``DATABASE_APP_URL``: URL the application connects with. Unset: ``DATABASE_URL`` with
    ``SET ROLE shelfsync_app`` at connect, so queries run as a role that does not own the tables."""

    redis_url: str | None = None
    """``REDIS_URL``: Redis for queues, sessions, rate limits and locks.
    Unset: an embedded Redis is started under ``DATA_DIR/redis``."""

    secret_key: str = ""
    """``SECRET_KEY``: signs CSRF tokens and derives session secrets (at least 32 characters)."""

    data_dir: Path = Path(".shelfsync")
    """``DATA_DIR``: where embedded services and generated development secrets live (default
    ``./.shelfsync``)."""

    base_domain: str = "localhost"
    """``BASE_DOMAIN``: partners are served at ``{partner}.{BASE_DOMAIN}`` unless they have a custom
    domain (default ``localhost``)."""

    encryption_keys: tuple[tuple[str, bytes], ...] = ()
    """``ENCRYPTION_KEYS``: ``kid:base64key[,kid:base64key…]``, 32-byte AES-256-GCM keys; the first
    encrypts, all decrypt (rotation)."""

    cookie_secure: bool = True
    """``COOKIE_SECURE``: mark session and CSRF cookies ``Secure`` (default true; browsers accept
    secure cookies on ``localhost``)."""

    mail_backend: Literal["log", "smtp"] = "log"
    """``MAIL_BACKEND``: ``log`` writes outgoing mail to the log (development), ``smtp`` sends it."""

    smtp_url: str | None = None
    """``SMTP_URL``: ``smtp://user:password@host:port`` when ``MAIL_BACKEND=smtp``."""

    mail_from: str = "no-reply@localhost"
    """``MAIL_FROM``: envelope sender of outgoing mail."""

    log_level: str = "INFO"
    """``LOG_LEVEL``: minimum level of the JSON logs (default ``INFO``)."""

    connector_allowed_hosts: frozenset[str] = frozenset()
    """``CONNECTOR_ALLOWED_HOSTS``: comma-separated host names connections may reach even though they
    resolve to private or loopback addresses (an on-premises ERP, a sandbox)."""

    file_root: Path = Path(".shelfsync/files")
    """``FILE_ROOT``: local folders that file connections (flat files, EDI with ``transport: folder``) may
    use; each tenant gets ``FILE_ROOT/<tenant id>`` and nothing outside it (default ``DATA_DIR/files``)."""

    delivery_lease_seconds: int = 120
    """``DELIVERY_LEASE_SECONDS``: how long a worker holds the rows of a batch it is delivering; rows of
    a worker that died become claimable again after this (default 120, longer than any write)."""

    worker_max_jobs: int = 20
    """``WORKER_MAX_JOBS``: jobs one worker process runs at once (default 20). Each retailer's share of
    all workers is capped by its plan's ``concurrency``, so one retailer never takes them all."""

    database_connect_timeout: float = 3.0
    """``DATABASE_CONNECT_TIMEOUT``: seconds to open a PostgreSQL connection before giving up (default 3);
    with PostgreSQL unreachable, a request answers 503 within this rather than hanging."""

    database_statement_timeout: float = 4.0
    """``DATABASE_STATEMENT_TIMEOUT``: seconds a web request waits for one statement's answer before it
    fails with 503 (default 4), so a silent PostgreSQL (a partition) never holds a request longer; it also
    bounds the wait for a pooled connection. Workers wait up to 30 s: their bulk statements run longer."""

    connector_allow_private: bool = True
    """``CONNECTOR_ALLOW_PRIVATE``: let connections reach any private or loopback address (default true
    in development, where sandboxes and peers run on 127.0.0.1; false in production)."""

    request_max_body_bytes: int = 10_000_000
    """``REQUEST_MAX_BODY_BYTES``: the largest request body the web process reads; a bigger one gets 413
    before it is read (default 10 MB: a full batch of events with room to spare)."""

    stripe_api_key: str | None = None
    """``STRIPE_API_KEY``: the platform's Stripe secret key (``sk_live_…`` or ``sk_test_…``) used to bill
    partners through metered billing. Unset: nothing is sent to Stripe (usage is still recorded)."""

    stripe_api_base: str | None = None
    """``STRIPE_API_BASE``: where the Stripe API is reached (default: Stripe's own ``https://api.stripe.com``);
    tests and the demo point it at the Stripe sandbox."""

    stripe_webhook_secret: str | None = None
    """``STRIPE_WEBHOOK_SECRET``: the ``whsec_…`` signing secret of the webhook endpoint registered for
    ``/hooks/stripe``; unset, Stripe webhooks are refused."""
    otel_endpoint: str | None = None
    """``OTEL_ENDPOINT``: base URL of an OpenTelemetry collector's OTLP/HTTP receiver
    (``http://collector:4318``); set, the API and workers send it spans of requests, jobs and
    destination calls. Unset (default): no tracing at all."""

    metrics_port: int | None = None
    """``METRICS_PORT``: a worker serves its own Prometheus metrics (runs, deliveries) on this port at
    ``/metrics``; the API's ``/metrics`` shows only its own process. Unset (default): not served."""

    @property
    def active_key(self) -> tuple[str, bytes]:
        """The (key id, key) that encrypts new secrets."""
        return self.encryption_keys[0]

    def with_services(self, database_url: str, redis_url: str) -> Settings:
        """A copy pointing at concrete services (used once embedded ones are started)."""
        return replace(self, database_url=database_url, redis_url=redis_url)


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _url(name: str, raw: str, schemes: set[str]) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in schemes:
        wanted = ", ".join(sorted(schemes))
        raise SettingsError(f"{name} must be a URL with scheme {wanted}, got {parts.scheme!r}")
    if parts.scheme in {"redis", "rediss", "postgresql", "postgres", "smtp"} and not (
        parts.hostname or "host=" in parts.query
    ):
        raise SettingsError(f"{name} must name a host, got {raw!r}")
    return raw


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {value}")
    return value


def _positive_seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 3600:
        raise SettingsError(f"{name} must be more than 0 and at most 3600 seconds, got {value:g}")
    return value


def parse_encryption_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """Parse ``kid:base64key,…`` into (key id, 32-byte key) pairs, in order."""
    keys: list[tuple[str, bytes]] = []
    for index, item in enumerate(part.strip() for part in raw.split(",")):
        kid, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID.match(kid):
            raise SettingsError(f"ENCRYPTION_KEYS item {index} must look like kid:base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise SettingsError(f"ENCRYPTION_KEYS key {kid!r} is not valid base64") from None
        if len(key) != 32:
            raise SettingsError(f"ENCRYPTION_KEYS key {kid!r} must decode to 32 bytes, got {len(key)}")
        if any(existing == kid for existing, _ in keys):
            raise SettingsError(f"ENCRYPTION_KEYS key id {kid!r} appears twice")
        keys.append((kid, key))
    if not keys:
        raise SettingsError("ENCRYPTION_KEYS must hold at least one kid:base64key")
    return tuple(keys)


def _development_secrets(data_dir: Path) -> dict[str, str]:
    """Generate (once) and reuse the secrets a development install needs."""
    path = data_dir / "dev-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(generated))
    path.chmod(0o600)
    return generated


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment)."""
    source = dict(os.environ if env is None else env)

    def get(name: str) -> str | None:
        value = source.get(name)
        return value if value not in (None, "") else None

    environment = get("SHELFSYNC_ENV") or "development"
    if environment not in ("development", "production"):
        raise SettingsError(f"SHELFSYNC_ENV must be development or production, got {environment!r}")

    data_dir = Path(get("DATA_DIR") or ".shelfsync")
    database_url = get("DATABASE_URL")
    if database_url:
        _url("DATABASE_URL", database_url, {"postgresql", "postgres", "postgresql+asyncpg"})
    database_app_url = get("DATABASE_APP_URL")
    if database_app_url:
        _url("DATABASE_APP_URL", database_app_url, {"postgresql", "postgres", "postgresql+asyncpg"})
    redis_url = get("REDIS_URL")
    if redis_url:
        _url("REDIS_URL", redis_url, {"redis", "rediss", "unix"})

    base_domain = (get("BASE_DOMAIN") or "localhost").lower()
    if not _HOSTNAME.match(base_domain):
        raise SettingsError(f"BASE_DOMAIN must be a host name such as example.com, got {base_domain!r}")

    secret_key = get("SECRET_KEY")
    raw_keys = get("ENCRYPTION_KEYS")
    if environment == "production":
        if not secret_key:
            raise SettingsError("SECRET_KEY is required when SHELFSYNC_ENV=production")
        if not raw_keys:
            raise SettingsError("ENCRYPTION_KEYS is required when SHELFSYNC_ENV=production")
    if not secret_key or not raw_keys:
        generated = _development_secrets(data_dir)
        secret_key = secret_key or generated["SECRET_KEY"]
        raw_keys = raw_keys or generated["ENCRYPTION_KEYS"]
    if len(secret_key) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters")

    mail_backend = get("MAIL_BACKEND") or "log"
    if mail_backend not in ("log", "smtp"):
        raise SettingsError(f"MAIL_BACKEND must be log or smtp, got {mail_backend!r}")
    smtp_url = get("SMTP_URL")
    if mail_backend == "smtp":
        if not smtp_url:
            raise SettingsError("SMTP_URL is required when MAIL_BACKEND=smtp")
        _url("SMTP_URL", smtp_url, {"smtp"})

    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    allowed_hosts = frozenset(
        host.strip().lower() for host in (get("CONNECTOR_ALLOWED_HOSTS") or "").split(",") if host.strip()
    )
    allow_private = _bool(
        "CONNECTOR_ALLOW_PRIVATE",
        get("CONNECTOR_ALLOW_PRIVATE") or ("false" if environment == "production" else "true"),
    )

    stripe_api_base = get("STRIPE_API_BASE")
    if stripe_api_base:
        _url("STRIPE_API_BASE", stripe_api_base, {"http", "https"})
    stripe_webhook_secret = get("STRIPE_WEBHOOK_SECRET")
    if stripe_webhook_secret and not stripe_webhook_secret.startswith("whsec_"):
        raise SettingsError("STRIPE_WEBHOOK_SECRET must be a webhook signing secret, whsec_…")
    otel_endpoint = get("OTEL_ENDPOINT")
    if otel_endpoint:
        _url("OTEL_ENDPOINT", otel_endpoint, {"http", "https"})
    metrics_port = get("METRICS_PORT")
    if metrics_port and _positive_int("METRICS_PORT", metrics_port) > 65535:
        raise SettingsError(f"METRICS_PORT must be a port number (1–65535), got {metrics_port}")

    return Settings(
        environment=environment,  # type: ignore[arg-type]
        database_url=database_url,
        database_app_url=database_app_url,
        redis_url=redis_url,
        secret_key=secret_key,
        data_dir=data_dir,
        base_domain=base_domain,
        encryption_keys=parse_encryption_keys(raw_keys),
        cookie_secure=_bool("COOKIE_SECURE", get("COOKIE_SECURE") or "true"),
        mail_backend=mail_backend,  # type: ignore[arg-type]
        smtp_url=smtp_url,
        mail_from=get("MAIL_FROM") or "no-reply@localhost",
        log_level=log_level,
        connector_allowed_hosts=allowed_hosts,
        file_root=Path(get("FILE_ROOT") or data_dir / "files"),
        delivery_lease_seconds=_positive_int(
            "DELIVERY_LEASE_SECONDS", get("DELIVERY_LEASE_SECONDS") or "120"
        ),
        worker_max_jobs=_positive_int("WORKER_MAX_JOBS", get("WORKER_MAX_JOBS") or "20"),
        database_connect_timeout=_positive_seconds(
            "DATABASE_CONNECT_TIMEOUT", get("DATABASE_CONNECT_TIMEOUT") or "3"
        ),
        database_statement_timeout=_positive_seconds(
            "DATABASE_STATEMENT_TIMEOUT", get("DATABASE_STATEMENT_TIMEOUT") or "4"
        ),
        connector_allow_private=allow_private,
        request_max_body_bytes=_positive_int(
            "REQUEST_MAX_BODY_BYTES", get("REQUEST_MAX_BODY_BYTES") or "10000000"
        ),
        stripe_api_key=get("STRIPE_API_KEY"),
        stripe_api_base=stripe_api_base.rstrip("/") if stripe_api_base else None,
        stripe_webhook_secret=stripe_webhook_secret,
        otel_endpoint=otel_endpoint,
        metrics_port=int(metrics_port) if metrics_port else None,
    )
