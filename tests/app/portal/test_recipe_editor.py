"""The portal's recipe editor: the live preview shows the mapped output or the problem's path and
reason, saving makes a version (or shows why not), versions compare and roll back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.clock import FrozenClock
from app.database.engine import Database
from tests.app.portal.forms import csrf_token, sign_in, submit
from tests.app.portal.sync_facts import seed_sync_facts
from tests.factories import PASSWORD, World


@pytest.fixture
async def editor(alpha: AsyncTestClient[Any], world: World, db: Database, clock: FrozenClock) -> str:
    """Signed in as a1's admin; the path of the editor of a1's stock recipe."""
    await seed_sync_facts(alpha, world, db, clock.now())
    await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)
    listing = await alpha.get("/recipes")
    found = re.search(r'href="(/recipes/[0-9a-f-]{36})">stock to the web stock<', listing.text)
    assert found, listing.text
    return found.group(1)


def source_of(page: str) -> str:
    found = re.search(r'<textarea id="source" name="source"[^>]*>(.*?)</textarea>', page, re.S)
    assert found
    return (
        found.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&gt;", ">").replace("&lt;", "<")
    )


class TestRecipeEditor:
    async def test_the_page_shows_the_recipe_its_sample_mapped_and_its_tests(
        self, alpha: AsyncTestClient[Any], editor: str
    ) -> None:
        page = await alpha.get(editor)
        assert page.status_code == 200
        assert "on_hand: {from: on_hand, cast: int}" in page.text or "cast: int" in page.text
        assert 'data-testid="mapped-status">ok<' in page.text
        assert 'data-test-case="nothing reserved">passed' in page.text

    async def test_live_preview_gives_the_output_or_the_path_and_reason(
        self, alpha: AsyncTestClient[Any], editor: str
    ) -> None:
        source = source_of((await alpha.get(editor)).text)
        token = await csrf_token(alpha, editor)
        sample = '{"sku": "SKU-9", "location": "WH1", "on_hand": 7}'
        good = await alpha.post(
            f"{editor}/preview", data={"source": source, "sample": sample, "_csrf_token": token}
        )
        assert good.status_code == 200
        assert "&#34;on_hand&#34;: 7" in good.text or '"on_hand": 7' in good.text
        broken = source.replace("cast: int", "cast: integer-ish", 1)
        bad = await alpha.post(
            f"{editor}/preview", data={"source": broken, "sample": sample, "_csrf_token": token}
        )
        assert 'data-path="fields.on_hand.cast"' in bad.text
        unreadable = await alpha.post(
            f"{editor}/preview", data={"source": source, "sample": "{nope", "_csrf_token": token}
        )
        assert 'data-path="sample"' in unreadable.text

    async def test_save_compare_and_roll_back(self, alpha: AsyncTestClient[Any], editor: str) -> None:
        source = source_of((await alpha.get(editor)).text)
        changed = source.replace("location: location", "location: sku", 1)
        failing = await submit(alpha, editor, editor, {"source": changed, "sample": "{}"})
        assert failing.status_code == 422  # the recipe's own test cases expect the location
        assert 'data-path="tests.nothing reserved"' in failing.text
        renamed = source.replace("name: REST stock", "name: Web shop stock", 1)
        saved = await submit(alpha, editor, editor, {"source": renamed, "sample": "{}"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{editor}?saved=2"
        compare = await alpha.get(f"{editor}/compare?before=1&after=2")
        assert 'data-path="name"' in compare.text
        rolled = await submit(alpha, editor, f"{editor}/rollback/1", {})
        assert rolled.headers["location"] == f"{editor}?saved=3"
        page = await alpha.get(f"{editor}?saved=3")
        assert "Saved as version 3." in page.text
        assert "name: REST stock" in source_of(page.text)
