"""Secrets never come out: connection secrets, API key secrets, webhook secrets and passwords appear in
no log line (the JSON logs are captured), no API answer after the one that created them, and no portal
page."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient

from app.database.engine import Database
from app.logging import configure_logging
from tests.app.api.calls import bearer
from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World
from tests.security.estate import Estate, seed_estate

WRONG_PASSWORD = "not-the-password-but-secret-too"
NOT_PAGES = ("/api/", "/hooks/", "/schema", "/static", "/metrics")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log line at DEBUG, as the JSON the web process writes; the console is captured as well, for
    loggers that cached an earlier configuration."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG")
    captured = io.StringIO()
    root.handlers[0].setStream(captured)  # type: ignore[attr-defined]
    yield captured
    root.handlers[:], root.level = handlers, level
    structlog.reset_defaults()


def _pages(app: Litestar) -> list[str]:
    return [
        route.path
        for route in app.routes
        if "GET" in route.methods and "{" not in route.path and not route.path.startswith(NOT_PAGES)
    ]


def _assert_hidden(where: str, text: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        assert value not in text, f"the {name} shows in {where}"


class TestSecretsStayHidden:
    async def test_logs_api_answers_and_portal_pages(
        self,
        app: Litestar,
        alpha: AsyncTestClient[Any],
        world: World,
        db: Database,
        json_logs: io.StringIO,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        client = alpha  # one client per app: the API does not mind the partner's host
        estate: Estate = await seed_estate(client, db, world.tenant_a1)
        secrets = {**estate.secrets, "password": PASSWORD, "wrong password": WRONG_PASSWORD}
        answers: list[str] = []
        # the API: every list and every seeded resource, a secret rotated, a check run, wrong keys tried
        schema = (await client.get("/schema/openapi.json")).json()
        for path, item in schema["paths"].items():
            if path.startswith("/api/v1/") and "get" in item and "{" not in path:
                answers.append((await client.get(path, headers=bearer(estate.key))).text)
        for name in ("connection_id", "rule_id", "flow_id", "recipe_id", "dead_letter_id", "run_id"):
            resource = next(p for p in schema["paths"] if p.endswith(f"{{{name}}}"))
            answers.append(
                (
                    await client.get(
                        resource.replace(f"{{{name}}}", estate.ids[name]), headers=bearer(estate.key)
                    )
                ).text
            )
        connection = f"/api/v1/connections/{estate.ids['connection_id']}"
        rotated = "rotated-webhook-secret-0123456789"
        secrets["rotated webhook secret"] = rotated
        answers.append(
            (
                await client.patch(
                    connection, json={"config": {"secret": rotated}}, headers=bearer(estate.key)
                )
            ).text
        )
        answers.append((await client.post(f"{connection}/test", headers=bearer(estate.key))).text)
        near_miss = estate.key[:-4] + "AAAA"  # nearly all of a real key: as secret as the key itself
        secrets["near-miss key"] = near_miss
        answers.append((await client.get("/api/v1/tenant", headers=bearer(near_miss))).text)
        answers.append((await client.post(f"/hooks/{estate.ids['connection_id']}", content=b"{}")).text)
        for answer in answers:
            _assert_hidden("an API answer", answer, secrets)
        # the portal: a failed and a good sign-in, then every page without parameters
        await sign_in(alpha, world.users["retailer_admin_a1"].email, WRONG_PASSWORD)
        assert (await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)).status_code == 303
        await submit(alpha, "/keys", "/keys", {"name": "from the portal", "scopes": "tenant:read"})
        pages = _pages(app)
        assert len(pages) > 15
        for page in pages:
            response = await alpha.get(page, follow_redirects=False)
            assert response.status_code < 500, page
            _assert_hidden(f"the portal page {page}", response.text, secrets)
        # and the logs of all of it
        lines = json_logs.getvalue()
        assert '"event": "portal.login_failed"' in lines  # the capture saw the web process's JSON lines
        console = capfd.readouterr()
        _assert_hidden("the JSON logs", lines, secrets)
        _assert_hidden("the console", console.out + console.err, secrets)
