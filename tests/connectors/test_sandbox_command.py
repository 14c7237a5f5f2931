"""``shelfsync sandbox NAME --port N`` serves a sandbox in its own process until it is stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def shelfsync(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


class TestSandboxCommand:
    def test_serves_until_interrupted(self) -> None:
        port = free_port()
        process = subprocess.Popen(shelfsync("sandbox", "pos", "--port", str(port)), cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/v2/locations", timeout=2)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, "the sandbox exited"
                    assert time.monotonic() < deadline, "the sandbox did not start"
                    time.sleep(0.2)
            assert response.status_code == 401  # a POS API wants its bearer token
            assert response.json()["errors"][0]["category"] == "AUTHENTICATION_ERROR"
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0

    def test_unknown_name_lists_the_known_ones(self) -> None:
        result = subprocess.run(
            shelfsync("sandbox", "sap-r2"), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert result.returncode == 2
        assert "unknown sandbox 'sap-r2'" in result.stderr
        assert "shopify" in result.stderr
        assert "vendure" in result.stderr

    def test_options_reach_the_sandbox_and_bad_ones_are_refused(self) -> None:
        port = free_port()
        command = shelfsync("sandbox", "pos", "--port", str(port), "--option", "access_token=opened-sesame")
        process = subprocess.Popen(command, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.get(
                        f"http://127.0.0.1:{port}/v2/locations",
                        headers={"Authorization": "Bearer opened-sesame"},
                        timeout=2,
                    )
                    break
                except httpx.TransportError:
                    assert process.poll() is None, "the sandbox exited"
                    assert time.monotonic() < deadline, "the sandbox did not start"
                    time.sleep(0.2)
            assert response.status_code == 200, response.text
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0
        for bad, says in (("page_size", "not name=value"), ("no_such_option=1", "no_such_option")):
            result = subprocess.run(
                shelfsync("sandbox", "pos", "--option", bad),
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 2
            assert says in result.stderr
