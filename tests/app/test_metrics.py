"""``/metrics``: request metrics labelled by route template (never a raw id), and the engine's state read
from the database at each scrape."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from tests.app.portal.sync_facts import seed_sync_facts
from tests.factories import World


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of metric ``name`` with exactly ``labels`` (as far as given), or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


class TestMetrics:
    async def test_requests_by_route_template_and_engine_state(
        self, client: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock
    ) -> None:
        await seed_sync_facts(client, world, db, clock.now())
        missing = "7f0c2f4e-1b8e-4a4c-9a43-3d2b7f5f0a11"
        for _ in range(2):
            await client.get(f"/api/v1/flows/{missing}")  # 401 without a key, by its template
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert missing not in text  # ids never become labels
        counted = sample(text, "shelfsync_requests_total", path="/api/v1/flows/{flow_id}", status_code="401")
        assert counted is not None
        assert counted >= 2
        assert sample(text, "shelfsync_dead_letters_open") == 2
        assert sample(text, "shelfsync_runs_recent", kind="delivery", status="succeeded") == 3
        assert sample(text, "shelfsync_delivery_backlog") == 0
        assert re.search(r"^shelfsync_outbox_pending \d", text, re.M)
