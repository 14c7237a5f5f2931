"""Square's error bodies (``{"errors": [{"category", "code", "detail", "field"}]}``) as one readable line."""

from __future__ import annotations

import json
from typing import Any


def square_error_text(message: str) -> str:
    """The ``code: detail (field)`` parts of the error body inside ``message``, else ``message``."""
    start = message.find("{")
    if start < 0:
        return message
    try:
        body: Any = json.loads(message[start:].rstrip("…"))
    except ValueError:
        return message
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors:
        return message
    parts = []
    for error in errors:
        if isinstance(error, dict):
            where = f" ({error['field']})" if error.get("field") else ""
            parts.append(f"{error.get('code', '?')}: {error.get('detail', '')}{where}")
    return "; ".join(parts) or message
