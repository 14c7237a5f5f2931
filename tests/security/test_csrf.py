"""CSRF on every portal form: each state-changing portal route in the app's route table refuses a
request from a signed-in browser that lacks the CSRF token, or sends a wrong one (403)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.app.portal.forms import csrf_token, sign_in
from tests.factories import PASSWORD, World

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
NOT_PORTAL = ("/api/", "/hooks/", "/schema", "/static")
PATH_PARAMETER = re.compile(r"{(\w+):(\w+)}")


def portal_forms(app: Litestar) -> list[tuple[str, str]]:
    """(method, path) of every state-changing portal route, parameters filled with made-up values."""

    def filled(match: re.Match[str]) -> str:
        return {"uuid": str(uuid.uuid4()), "int": "1"}.get(match.group(2), "x")

    return [
        (method, PATH_PARAMETER.sub(filled, route.path))
        for route in app.routes
        if not route.path.startswith(NOT_PORTAL)
        for method in sorted(route.methods & CHANGING)
    ]


class TestEveryPortalForm:
    async def test_without_or_with_a_wrong_token(
        self, app: Litestar, alpha: AsyncTestClient[Any], world: World
    ) -> None:
        forms = portal_forms(app)
        assert len(forms) >= 20, forms  # 24 when this was written
        assert ("POST", "/login") in forms
        assert (await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)).status_code == 303
        token = await csrf_token(alpha, "/")
        for method, path in forms:
            for sent in ({}, {"_csrf_token": "forged" + token[6:]}):
                response = await alpha.request(
                    method, path, data={"name": "x", **sent}, follow_redirects=False
                )
                assert response.status_code == 403, f"{method} {path} with {sent or 'no token'}"
                assert "CSRF" in response.text, f"{method} {path}: refused, but not for the token"
        # the same browser with its token gets past the check
        assert (await alpha.post("/logout", data={"_csrf_token": token})).status_code in (200, 303)

    async def test_header_token_is_checked_too(self, alpha: AsyncTestClient[Any], world: World) -> None:
        assert (await sign_in(alpha, world.users["retailer_admin_a1"].email, PASSWORD)).status_code == 303
        response = await alpha.post("/keys", data={"name": "x"}, headers={"X-CSRFToken": "forged"})
        assert response.status_code == 403
