"""Sandboxes: local servers speaking a remote system's wire protocol, for tests and demos only.

Each reproduces its system's pagination, rate limits (429 + Retry-After), error bursts and credential
checks, and can be told to misbehave through ``/_sandbox/faults`` (see ``connectors.sandboxes.faults``).
The product never calls a sandbox on its own: a connection is pointed at one by its base URL.
Run one with ``shelfsync sandbox NAME --port N``.
"""

from __future__ import annotations

import importlib
from typing import Any

SANDBOXES: dict[str, str] = {
    "shopify": "connectors.sandboxes.shopify:create_app",
    "rest": "connectors.sandboxes.rest:create_app",
    "marketplace": "connectors.sandboxes.marketplace:create_app",
    "pos": "connectors.sandboxes.pos:create_app",
    "oauth": "connectors.sandboxes.oauth:create_app",
    "stripe": "connectors.sandboxes.stripe:create_app",
}


def create_sandbox(name: str, **options: Any) -> Any:
    """The ASGI app of sandbox ``name``; ``KeyError`` lists the known ones."""
    try:
        target = SANDBOXES[name]
    except KeyError:
        raise KeyError(f"unknown sandbox {name!r}; known: {', '.join(sorted(SANDBOXES))}") from None
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)(**options)
