"""Each paginator against the REST sandbox: every record once, across several pages, and incremental
reads that resume from the largest cursor seen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.manifest import manifest_template
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.sdk.results import ReadPage

ALL_SKUS = [f"SKU-00{i}" for i in range(1, 8)]
LATEST_ITEM_CHANGE = "2024-05-01T08:00:07Z"


def manifest_with(stream: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "key": "paging-test",
        "name": "Paging test",
        "kind": "erp",
        "config_schema": {
            "type": "object",
            "required": ["base_url", "api_key"],
            "properties": {"base_url": {"type": "string"}, "api_key": {"type": "string", "writeOnly": True}},
        },
        "auth": {"type": "api_key", "key": "{{ secrets.api_key }}"},
        "requester": {"url_base": "{{ config.base_url }}"},
        "check": {"stream": "items"},
        "streams": {"items": {"selector": {"path": "data"}, **stream}},
    }


STYLES: dict[str, dict[str, Any]] = {
    "page": {
        "path": "/page/items",
        "paginator": {
            "type": "PageIncrement",
            "page_param": "page",
            "size_param": "per_page",
            "page_size": 3,
        },
    },
    "offset": {
        "path": "/offset/items",
        "paginator": {
            "type": "OffsetIncrement",
            "offset_param": "offset",
            "limit_param": "limit",
            "page_size": 3,
        },
    },
    "cursor-body": {
        "path": "/cursor/items",
        "paginator": {
            "type": "CursorPagination",
            "token_path": "meta.next_cursor",
            "stop_path": "meta.has_more",
            "size_param": "limit",
            "page_size": 3,
        },
    },
    "cursor-header": {
        "path": "/cursor/items",
        "paginator": {
            "type": "CursorPagination",
            "token_header": "X-Next-Cursor",
            "size_param": "limit",
            "page_size": 3,
        },
    },
    "link": {
        "path": "/link/items",
        "selector": {"path": ""},
        "paginator": {"type": "LinkHeader", "rel": "next", "size_param": "per_page", "page_size": 3},
    },
}
INCREMENTAL = {"incremental": {"cursor_field": "updated_at", "since_param": "updated_since"}}


async def read_all(
    make_context: Callable[..., ConnectorContext], stream: dict[str, Any], cursor: str | None = None
) -> list[ReadPage]:
    template = manifest_template(manifest_with(stream))
    async with template(make_context()) as connector:
        return [page async for page in connector.read(Domain.ITEMS, cursor)]


async def requests_made(sandbox: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sandbox) as client:
        listed: list[dict[str, Any]] = (await client.get("/_sandbox/requests")).json()
        return listed


@pytest.mark.parametrize("style", sorted(STYLES))
class TestFullRead:
    async def test_every_record_once_across_pages(
        self, style: str, sandbox: str, make_context: Callable[..., ConnectorContext]
    ) -> None:
        pages = await read_all(make_context, STYLES[style])
        skus = [record["sku"] for page in pages for record in page.records]
        assert skus == ALL_SKUS
        assert len(pages) == 3  # 3 + 3 + 1
        assert [r["method"] for r in await requests_made(sandbox)] == ["GET"] * 3


@pytest.mark.parametrize("style", sorted(STYLES))
class TestIncrementalRead:
    async def test_cursor_moves_on_the_last_page_only(
        self, style: str, make_context: Callable[..., ConnectorContext]
    ) -> None:
        pages = await read_all(make_context, {**STYLES[style], **INCREMENTAL})
        # Records are in SKU order, not change order: a cursor stored midway could skip changes.
        assert [page.cursor for page in pages] == [None, None, LATEST_ITEM_CHANGE]

    async def test_only_changes_since_the_cursor(
        self, style: str, sandbox: str, make_context: Callable[..., ConnectorContext]
    ) -> None:
        async with httpx.AsyncClient(base_url=sandbox) as client:
            for sku in ("SKU-006", "SKU-002"):
                await client.post("/_sandbox/rest/touch", json={"resource": "items", "sku": sku})
        pages = await read_all(make_context, {**STYLES[style], **INCREMENTAL}, LATEST_ITEM_CHANGE)
        assert [r["sku"] for page in pages for r in page.records] == ["SKU-002", "SKU-006"]
        assert pages[-1].cursor == "2024-05-01T08:01:42Z"  # the second touch


class TestSortedSource:
    async def test_sorted_streams_move_the_cursor_every_page(
        self, make_context: Callable[..., ConnectorContext]
    ) -> None:
        stream = {**STYLES["page"], "incremental": {**INCREMENTAL["incremental"], "sorted": True}}
        pages = await read_all(make_context, stream)
        assert [page.cursor for page in pages] == [
            "2024-05-01T08:00:07Z",  # SKU-001..003 changed at 5, 2, 7
            "2024-05-01T08:00:07Z",
            "2024-05-01T08:00:07Z",
        ]


class TestNoPagination:
    async def test_one_request(self, sandbox: str, make_context: Callable[..., ConnectorContext]) -> None:
        pages = await read_all(make_context, {"path": "/page/items", "params": {"per_page": "5"}})
        assert len(pages) == 1
        assert len(pages[0].records) == 5
        assert len(await requests_made(sandbox)) == 1


class TestCheckByStream:
    async def test_reads_one_page_only(
        self, sandbox: str, make_context: Callable[..., ConnectorContext]
    ) -> None:
        template = manifest_template(manifest_with(STYLES["page"]))
        async with template(make_context()) as connector:
            check = await connector.test_connection()
        assert (check.ok, check.detail) == (True, "read 3 items")
        assert len(await requests_made(sandbox)) == 1
