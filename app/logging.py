"""Structured JSON logs (structlog) carrying the tenant, flow, run and correlation id of the work in
hand, with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog

from app.tracing import WORK_FIELDS, tag_current_span

__all__ = ["WORK_FIELDS", "bind_work", "configure_logging", "redact_secrets", "unit_of_work"]

REDACTED = "[redacted]"
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "passwd",
        "secret",
        "secrets",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "x_api_key",
        "client_secret",
        "secret_key",
        "private_key",
        "encryption_keys",
        "x_shopify_access_token",
        "x_amz_access_token",
    }
)
"""Keys (any case, ``-`` read as ``_``) whose values never reach a log line, at any depth."""
_SECRET_FRAGMENTS = ("password", "secret")
# a bearer token or URL credentials inside free text (an exception message, a URL in an httpx line)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@")


def is_secret_key(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name in SECRET_KEYS or any(fragment in name for fragment in _SECRET_FRAGMENTS)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1:" + REDACTED + "@", _BEARER.sub(r"\1 " + REDACTED, value))
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_key(str(k)) else _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """A processor: values under secret keys become ``[redacted]``, and bearer tokens or URL passwords
    in text are cut out, so a secret passed to a log call by mistake is never written."""
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if is_secret_key(key) else _redacted(value)
    return event_dict


def configure_logging(level: str = "INFO") -> None:
    """Send standard-library and structlog records to stderr as one JSON object per line."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                # last before rendering: covers stdlib records (uvicorn, arq, httpx) and tracebacks too
                redact_secrets,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for library in ("uvicorn", "uvicorn.error", "arq", "httpx"):
        # their own handlers (uvicorn's default config) would print plain text beside the JSON
        logging.getLogger(library).handlers[:] = []
        logging.getLogger(library).propagate = True


def bind_work(**fields: uuid.UUID | str | int | None) -> None:
    """Bind ``fields`` (None ones skipped) to every later log line of the current unit of work, and
    to its trace span when tracing is on."""
    values = {name: str(value) for name, value in fields.items() if value is not None}
    structlog.contextvars.bind_contextvars(**values)
    tag_current_span(values)


@contextmanager
def unit_of_work(**fields: uuid.UUID | str | int | None) -> Iterator[None]:
    """One job or request: its log context starts from ``fields`` alone, and whatever the work binds
    inside (tenant, flow, run) is gone afterwards, so nothing leaks into the next job in the process."""
    before = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    bind_work(**fields)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)
