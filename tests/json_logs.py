"""Capturing the process's JSON log lines as the app writes them (``configure_logging``'s handler, aimed
at a buffer), restoring pytest's logging and structlog's configuration afterwards."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from app.logging import configure_logging


@dataclass
class JsonLogs:
    buffer: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far, each parsed (a line that is not one JSON object fails here)."""
        return [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.strip()]

    def text(self) -> str:
        return self.buffer.getvalue()


@contextmanager
def captured_logs(level: str = "INFO") -> Iterator[JsonLogs]:
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    libraries = {name: logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "arq", "httpx")}
    library_state = {name: (list(lg.handlers), lg.propagate) for name, lg in libraries.items()}
    structlog_config = structlog.get_config()
    buffer = io.StringIO()
    stderr, sys.stderr = sys.stderr, buffer
    try:
        configure_logging(level)
    finally:
        sys.stderr = stderr
    try:
        yield JsonLogs(buffer)
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name, (saved, propagate) in library_state.items():
            libraries[name].handlers[:] = saved
            libraries[name].propagate = propagate
        structlog.configure(**structlog_config)
