"""A reverse proxy with the sandboxes' fault injection, put in front of a real peer (Vendure, Tryton)
so the peer's connector meets 429s, 5xx bursts and slow answers that the real system would give."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar, Request, Response, route

from connectors.sandboxes.faults import sandbox_app

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


def create_app(upstream: str) -> Litestar:
    client = httpx.AsyncClient(base_url=upstream.rstrip("/"), timeout=60)

    @route("/{path:path}", http_method=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(request: Request[Any, Any, Any]) -> Response[bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream_response = await client.request(
            request.method,
            # the raw path: Litestar's routing drops a trailing slash that peers (trytond) need
            request.scope.get("raw_path", b"").decode() or request.url.path,
            params=dict(request.query_params),
            headers=headers,
            content=await request.body(),
        )
        out_headers = {k: v for k, v in upstream_response.headers.items() if k.lower() not in HOP_BY_HOP}
        return Response(
            content=upstream_response.content, status_code=upstream_response.status_code, headers=out_headers
        )

    return sandbox_app([forward], on_shutdown=[client.aclose])
