"""Settings: documented defaults, and one clear line for anything missing or malformed."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings

KEY = base64.b64encode(b"k" * 32).decode()


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.base_domain == "localhost"
    assert settings.environment == "development"
    assert settings.cookie_secure is True
    assert settings.otel_endpoint is None  # tracing off
    assert settings.metrics_port is None  # workers serve no metrics port
    assert len(settings.secret_key) >= 32
    assert len(settings.active_key[1]) == 32
    # development secrets are generated once and reused
    assert load_settings({"DATA_DIR": str(tmp_path)}).secret_key == settings.secret_key
    assert (settings.database_connect_timeout, settings.database_statement_timeout) == (3.0, 4.0)


def test_default_data_dir() -> None:
    env = {"SECRET_KEY": "s" * 40, "ENCRYPTION_KEYS": f"k1:{KEY}"}
    assert load_settings(env).data_dir == Path(".shelfsync")


def test_telemetry_settings() -> None:
    env = {"SECRET_KEY": "s" * 40, "ENCRYPTION_KEYS": f"k1:{KEY}"}
    settings = load_settings({**env, "OTEL_ENDPOINT": "http://collector:4318", "METRICS_PORT": "9464"})
    assert settings.otel_endpoint == "http://collector:4318"
    assert settings.metrics_port == 9464


def test_database_timeouts(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "DATABASE_CONNECT_TIMEOUT": "1.5", "DATABASE_STATEMENT_TIMEOUT": "10"}
    settings = load_settings(env)
    assert (settings.database_connect_timeout, settings.database_statement_timeout) == (1.5, 10.0)


def test_encryption_keys_keep_order_for_rotation() -> None:
    other = base64.b64encode(b"o" * 32).decode()
    settings = load_settings({"SECRET_KEY": "s" * 40, "ENCRYPTION_KEYS": f"new:{KEY},old:{other}"})
    assert [kid for kid, _ in settings.encryption_keys] == ["new", "old"]
    assert settings.active_key[0] == "new"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL must be a URL with scheme"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL must be a URL with scheme"),
        ({"BASE_DOMAIN": "not a domain"}, "BASE_DOMAIN must be a host name"),
        ({"ENCRYPTION_KEYS": "nokid"}, "ENCRYPTION_KEYS item 0 must look like kid:base64key"),
        ({"ENCRYPTION_KEYS": "k1:short"}, "ENCRYPTION_KEYS key 'k1'"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 32 characters"),
        ({"SHELFSYNC_ENV": "production"}, "SECRET_KEY is required when SHELFSYNC_ENV=production"),
        ({"SHELFSYNC_ENV": "staging"}, "SHELFSYNC_ENV must be development or production"),
        ({"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE must be true or false"),
        ({"MAIL_BACKEND": "smtp"}, "SMTP_URL is required when MAIL_BACKEND=smtp"),
        ({"OTEL_ENDPOINT": "grpc://collector:4317"}, "OTEL_ENDPOINT must be a URL with scheme"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT must be a port number"),
        ({"METRICS_PORT": "nine"}, "METRICS_PORT must be a whole number"),
        ({"DATABASE_CONNECT_TIMEOUT": "soon"}, "DATABASE_CONNECT_TIMEOUT must be a number of seconds"),
        ({"DATABASE_STATEMENT_TIMEOUT": "0"}, "DATABASE_STATEMENT_TIMEOUT must be more than 0"),
    ],
)
def test_malformed_settings_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        load_settings({"DATA_DIR": str(tmp_path), **env})
    assert "\n" not in str(raised.value)


def test_cli_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": "mysql://nope/x"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "current"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "Error: DATABASE_URL must be a URL with scheme postgres, postgresql, postgresql+asyncpg, got 'mysql'"
    ]
