"""What the API reads as a request body: JSON only; anything else is refused with 415 before parsing."""

from __future__ import annotations

from typing import Any

from litestar import Request

from app.http.problems import Problem

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """A body sent as a form, as text or without a content type is not guessed at (a ``before_request``
    hook of the API router)."""
    if request.method not in BODY_METHODS:
        return
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    content_type = request.headers.get("content-type", "")
    if has_body and not _is_json(content_type):
        raise Problem(
            415,
            "Send the body as JSON with 'Content-Type: application/json'.",
            errors=[{"path": "content-type", "reason": f"got {content_type or 'none'!r}"}],
        )
