"""Browser tests: the real app on a loopback socket, driven by Debian's Chromium through Playwright.

Pages are opened on partner hosts (``http://alpha.localhost:<port>``: Chromium resolves ``*.localhost``
to the loopback address), so white-labelling is resolved from the Host header as in production. Each
walk saves screenshots under ``tests/e2e/artifacts/`` (ignored by git). Without Chromium (install
Debian's ``chromium`` package; ``.ci/run`` does) the walks are skipped, saying so.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from playwright.async_api import Browser, Page, async_playwright

from tests.connectors.serving import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

HAS_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture
async def portal(app: Litestar) -> AsyncIterator[Callable[[str, str], str]]:
    """``url(host, path)``: the app served on a real socket, addressed by a partner's host name."""
    async with serve(app) as base:
        port = base.rsplit(":", 1)[1]
        yield lambda host, path: f"http://{host}:{port}{path}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    # a ``pytestmark`` here would not reach the test modules: the fixture every walk needs skips instead
    if not HAS_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


class Walk:
    """One person's walk through the portal: a page of their own, screenshots numbered in order."""

    def __init__(self, page: Page, name: str) -> None:
        self.page, self.name, self.shots = page, name, 0
        ARTIFACTS.mkdir(exist_ok=True)

    async def shot(self, label: str) -> Path:
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    async def sign_in(self, url: str, email: str, password: str) -> None:
        await self.page.goto(url)
        await self.page.get_by_label("E-mail").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url("**/")


@pytest.fixture
async def walk(browser: Browser) -> AsyncIterator[Callable[[str], Any]]:
    contexts = []

    async def start(name: str) -> Walk:
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        return Walk(await context.new_page(), name)

    yield start
    for context in contexts:
        await context.close()
