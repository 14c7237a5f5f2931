"""Recipe tests build small recipes in code; ``recipe(...)`` fills in the header every recipe needs."""

from __future__ import annotations

from typing import Any


def recipe(fields: dict[str, Any], **header: Any) -> dict[str, Any]:
    """An outbound price recipe with ``fields`` unless ``header`` says otherwise."""
    spec: dict[str, Any] = {
        "recipe": 1,
        "name": "test recipe",
        "direction": "outbound",
        "input": "price",
        "output": "shop.price",
    }
    spec.update(header)
    spec["fields"] = fields
    return spec
