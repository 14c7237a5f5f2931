"""``Idempotency-Key`` on POSTs: the same key with the same body gets the first answer again; the same
key with another body is a 409. The answer is stored in the transaction that did the work."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from litestar import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.problems import Problem
from app.ingress.models import IdempotentResponse

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise Problem(
            400,
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            errors=[{"path": f"headers.{HEADER}", "reason": "wrong length"}],
        )
    return key


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def earlier_answer(
    session: AsyncSession, tenant_id: uuid.UUID, key: str, request_digest: str
) -> IdempotentResponse | None:
    """The stored answer for ``key``; 409 if it was given for a different body."""
    found = await session.scalar(
        select(IdempotentResponse).where(
            IdempotentResponse.tenant_id == tenant_id, IdempotentResponse.key == key
        )
    )
    if found is not None and found.request_digest != request_digest:
        raise Problem(
            409,
            f"This {HEADER} was used with a different request body.",
            type_slug="idempotency-key-reused",
            errors=[{"path": f"headers.{HEADER}", "reason": "already used for another body"}],
        )
    return found


def remember(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    request_digest: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    session.add(
        IdempotentResponse(
            tenant_id=tenant_id, key=key, request_digest=request_digest, status_code=status_code, body=body
        )
    )
