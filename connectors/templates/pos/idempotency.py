"""Square idempotency keys: stable for one request's retries and for a re-run of the same job.

With a correlation id (one per engine job) the key is derived from it and the request body, so a job
that runs again after a crash sends the same key and Square answers without applying twice. Without
one the key is random; the HTTP client's own retries resend the same body and so the same key.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

_NAMESPACE = uuid.UUID("5b0f5e8e-51f3-4b53-9a3d-7f0e1c2d9a11")


def idempotency_key(correlation_id: str | None, body: dict[str, Any]) -> str:
    if not correlation_id:
        return str(uuid.uuid4())
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"{correlation_id}:{digest}"))
