"""The demo's Stripe: the Stripe sandbox as a child process, a webhook endpoint for the demo's
``/hooks/stripe``, and settings that point the real ``stripe`` SDK at it (demo equipment only; a
deployment sets ``STRIPE_*`` to Stripe itself)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx

from app.settings import Settings

DEMO_STRIPE_KEY = "sk_test_shelfsync_demo"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(url: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{url}/v1/customers", auth=(DEMO_STRIPE_KEY, ""), timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Stripe sandbox did not answer at {url}")
        time.sleep(0.1)


@contextmanager
def demo_stripe(settings: Settings, web_port: int) -> Iterator[Settings]:
    """``settings`` with Stripe pointed at a sandbox started for the demo (stopped on exit)."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
        [sys.executable, "-m", "app.cli", "sandbox", "stripe", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, time.monotonic() + 30)
        endpoint = httpx.post(
            f"{url}/v1/webhook_endpoints",
            data={"url": f"http://127.0.0.1:{web_port}/hooks/stripe", "enabled_events[]": "*"},
            auth=(DEMO_STRIPE_KEY, ""),
            timeout=5,
        )
        endpoint.raise_for_status()
        yield replace(
            settings,
            stripe_api_key=DEMO_STRIPE_KEY,
            stripe_api_base=url,
            stripe_webhook_secret=endpoint.json()["secret"],
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def stripe_environment(settings: Settings) -> dict[str, str]:
    """The ``STRIPE_*`` variables a child process (the worker) needs to reach the same Stripe."""
    values = {
        "STRIPE_API_KEY": settings.stripe_api_key,
        "STRIPE_API_BASE": settings.stripe_api_base,
        "STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
    }
    return {name: value for name, value in values.items() if value}
