"""The ``shelfsync`` command, run as a user runs it: admin tasks, and the demo on embedded services."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.database.migrations import head_revision
from app.demo_stripe import DEMO_STRIPE_KEY
from app.settings import Settings
from tests.redis_process import free_port


def shelfsync(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cli_env(scratch_db: Callable[[str], Settings], settings: Settings, tmp_path: Path) -> dict[str, str]:
    scratch = scratch_db("cli")
    return {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": scratch.database_url or "",
        "REDIS_URL": settings.redis_url or "",
    }


def test_admin_commands_create_a_working_api_key(cli_env: dict[str, str], settings: Settings) -> None:
    not_migrated = shelfsync("admin", "create-partner", "--slug", "acme", "--name", "Acme", env=cli_env)
    assert not_migrated.returncode != 0
    assert "shelfsync db upgrade" in not_migrated.stderr

    assert shelfsync("db", "upgrade", env=cli_env).returncode == 0
    assert shelfsync("db", "current", env=cli_env).stdout.strip() == head_revision(settings)
    created = shelfsync(
        "admin",
        "create-partner",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--primary-color",
        "#123456",
        env=cli_env,
    )
    assert created.returncode == 0, created.stderr
    duplicate = shelfsync("admin", "create-partner", "--slug", "acme", "--name", "Acme", env=cli_env)
    assert duplicate.returncode != 0
    assert "already taken" in duplicate.stderr
    derive = ("admin", "derive-template", "--partner", "acme", "--key", "acme-erp", "--name", "Acme ERP")
    derived = shelfsync(
        *derive,
        "--base",
        "tryton",
        "--default",
        "base_url=https://erp.acme.example",
        "--lock",
        "base_url",
        env=cli_env,
    )
    assert derived.returncode == 0, derived.stderr
    assert "template acme-erp published for acme" in derived.stdout
    refused = shelfsync(*derive, "--base", "tryton", "--lock", "password", env=cli_env)
    assert refused.returncode != 0
    assert "locked.password: secrets are set per connection" in refused.stderr
    assert (
        shelfsync(
            "admin",
            "create-tenant",
            "--partner",
            "acme",
            "--slug",
            "shop",
            "--name",
            "Shop",
            env=cli_env,
        ).returncode
        == 0
    )
    user = shelfsync(
        "admin",
        "create-user",
        "--email",
        "owner@shop.example",
        "--role",
        "retailer_admin",
        "--partner",
        "acme",
        "--tenant",
        "shop",
        env=cli_env,
        stdin="long enough password\nlong enough password\n",
    )
    assert user.returncode == 0, user.stderr
    missing = shelfsync(
        "admin",
        "create-api-key",
        "--partner",
        "acme",
        "--tenant",
        "nope",
        "--name",
        "k",
        env=cli_env,
    )
    assert missing.returncode != 0
    assert "no tenant 'nope'" in missing.stderr
    key = shelfsync(
        "admin",
        "create-api-key",
        "--partner",
        "acme",
        "--tenant",
        "shop",
        "--name",
        "k",
        "--scope",
        "tenant:read",
        env=cli_env,
    )
    assert key.returncode == 0, key.stderr
    secret = re.search(r"^(ss_live_\S+)$", key.stdout, re.MULTILINE)  # the line after the prefix
    assert secret

    from litestar.testing import TestClient

    from app.factory import create_app
    from app.settings import load_settings

    with TestClient(create_app(load_settings(cli_env)), base_url="https://localhost.local") as client:
        response = client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret.group(0)}"})
    assert response.status_code == 200
    assert response.json()["slug"] == "shop"
    assert response.json()["partner"]["slug"] == "acme"
    assert shelfsync("db", "downgrade", "base", env=cli_env).stdout.strip() == "database at base"


def _read_banner(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Stop with Ctrl-C" in line:
            return "".join(lines)
    raise AssertionError("demo did not print its banner:\n" + "".join(lines))


def _wait_until(check: Any, deadline: float) -> Any:
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_demo_runs_on_embedded_services(tmp_path: Path) -> None:
    """The README's demo command on a machine with nothing but Python: embedded PostgreSQL and Redis."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DATA_DIR": str(tmp_path / "data"), "COOKIE_SECURE": "false"})
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = _read_banner(process, time.monotonic() + 90)
        assert f"http://northwind.localhost:{port}/" in banner
        for email in (
            "platform@shelfsync.example",
            "admin@northwind.example",
            "operator@northwind.example",
            "admin@harbor.example",
            "viewer@harbor.example",
        ):
            assert email in banner
        secret = re.search(r"ss_live_\S+", banner)
        assert secret
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as http:
            _wait_until(lambda: http.get("/readyz").status_code == 200, time.monotonic() + 30)
            tenant = http.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret.group(0)}"})
            assert tenant.status_code == 200
            assert tenant.json()["slug"] == "harbor"
            auth = {"Authorization": f"Bearer {secret.group(0)}"}
            connections = http.get("/api/v1/connections", headers=auth).json()["items"]
            assert {c["name"] for c in connections} == {"Store files", "Web shop order webhook"}
            store_files = next(c for c in connections if c["name"] == "Store files")
            check = http.post(f"/api/v1/connections/{store_files['id']}/test", headers=auth).json()
            assert check["ok"] is True, check
            recipes = http.get("/api/v1/recipes", headers=auth).json()["items"]
            assert len(recipes) == 3
            # the demo's worker delivers stock pushed to the API into the store files
            pushed = http.post(
                "/api/v1/events/inventory",
                json={"items": [{"sku": "TEA-001", "location": "WH1", "on_hand": 2}]},
                headers=auth,
            )
            assert pushed.json()["accepted"] == 1
            outbound = tmp_path / "data" / "files" / tenant.json()["id"] / "stores" / "outbound"
            _wait_until(lambda: any(outbound.glob("stock_S001_*.csv")), time.monotonic() + 30)
            written = next(outbound.glob("stock_S001_*.csv")).read_text()
            assert "TEA-001" in written
            login = http.get("/login", headers={"Host": f"northwind.localhost:{port}"})
            assert "Northwind Retail Cloud" in login.text
            assert "shelfsync" not in login.text.lower()
            # the demo's worker process relays and sends the reset mail
            page = http.get("/password-reset", headers={"Host": f"northwind.localhost:{port}"})
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
            assert token
            sent = http.post(
                "/password-reset",
                data={"email": "admin@harbor.example", "_csrf_token": token.group(1)},
                headers={"Host": f"northwind.localhost:{port}"},
            )
            assert sent.status_code == 202
        # the platform bills the demo partner through the Stripe sandbox, with the real SDK
        stripe_url = re.search(r"Stripe sandbox : (http://\S+)", banner)
        assert stripe_url
        customers = httpx.get(f"{stripe_url.group(1)}/v1/customers", auth=(DEMO_STRIPE_KEY, "")).json()
        assert [c["metadata"].get("partner") for c in customers["data"]] == ["northwind"]
        _wait_until(lambda: _mail_sent(tmp_path / "data"), time.monotonic() + 30)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0
    # embedded servers are stopped with the demo
    assert not _postgres_running(tmp_path / "data" / "postgres")


def _mail_sent(data_dir: Path) -> bool:
    import asyncio

    import asyncpg

    async def check() -> bool:
        connection = await asyncpg.connect(
            host=str(data_dir / "postgres"), user="postgres", database="shelfsync"
        )
        try:
            return bool(
                await connection.fetchval("SELECT count(*) FROM outbound_mail WHERE sent_at IS NOT NULL")
            )
        finally:
            await connection.close()

    return asyncio.run(check())


def _postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    import psutil

    return bool(psutil.pid_exists(int(pid_file.read_text().splitlines()[0])))
