"""Values built once per key and kept, up to a size (the oldest goes first): compiled recipes, built
manifests. Safe across threads: a value is built once even when two threads ask for it together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class BuiltCache(Generic[V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[str, V] = {}
        self._lock = threading.Lock()

    def get(self, key: str, build: Callable[[], V]) -> V:
        """The value kept for ``key``, built by ``build`` the first time (its errors are not kept)."""
        found = self._items.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._items.get(key)
            if found is None:
                found = build()
                if len(self._items) >= self._size:
                    self._items.pop(next(iter(self._items)))
                self._items[key] = found
        return found
