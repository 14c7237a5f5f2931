"""Driving portal forms as a browser does: read the CSRF token from the page, post it back."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: AsyncTestClient[Any], path: str) -> str:
    page = await client.get(path)
    match = _CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def submit(client: AsyncTestClient[Any], page: str, action: str, fields: dict[str, Any]) -> Any:
    token = await csrf_token(client, page)
    return await client.post(action, data={**fields, "_csrf_token": token}, follow_redirects=False)


async def sign_in(client: AsyncTestClient[Any], email: str, password: str) -> Any:
    return await submit(client, "/login", "/login", {"email": email, "password": password})
