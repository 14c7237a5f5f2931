"""The partner's template library: derive a template with defaults and locked fields; retailers then
meet it in the wizard without the locked fields; wrong input is named by the field."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from tests.app.portal.forms import sign_in, submit
from tests.factories import PASSWORD, World


class TestTemplateLibrary:
    async def test_derive_then_meet_it_in_the_wizard_with_locked_fields_gone(
        self, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        await sign_in(alpha, world.users["partner_admin_a"].email, PASSWORD)
        page = await alpha.get("/partner/templates?base=rest")
        assert 'name="locked" value="base_url"' in page.text
        bad = await submit(
            alpha,
            "/partner/templates?base=rest",
            "/partner/templates",
            {"base_key": "rest", "key": "Alpha ERP", "name": "", "defaults": "[1]"},
        )
        assert bad.status_code == 422
        assert "lower-case letters" in bad.text
        assert "JSON object" in bad.text
        made = await submit(
            alpha,
            "/partner/templates?base=rest",
            "/partner/templates",
            {
                "base_key": "rest",
                "key": "alpha-erp",
                "name": "Alpha ERP",
                "defaults": '{"base_url": "https://erp.alpha.example", "page_size": 50}',
                "locked": "base_url",
            },
        )
        assert made.status_code == 303, made.text
        listing = await alpha.get("/partner/templates")
        assert re.search(r'data-template="alpha-erp">.*?Alpha ERP.*?rest.*?base_url', listing.text, re.S)
        created = await submit(
            alpha, "/partner/onboarding", "/partner/onboarding", {"name": "Kiosk", "slug": "kiosk"}
        )
        base = created.headers["location"].rsplit("/", 1)[0]
        form = await alpha.get(f"{base}/connections?template=alpha-erp")
        assert 'name="config.api_key"' in form.text
        assert 'name="config.base_url"' not in form.text  # locked by the partner

    async def test_operators_read_but_do_not_publish(self, alpha: AsyncTestClient[Any], world: World) -> None:
        await sign_in(alpha, world.users["partner_operator_a"].email, PASSWORD)
        page = await alpha.get("/partner/templates")
        assert page.status_code == 200
        assert "Publish template" not in page.text
