"""RFC 9457 problem details: every API error leaves as ``application/problem+json``."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


class ProblemDocument(msgspec.Struct):
    """An RFC 9457 problem as ``application/problem+json``; some types add fields (``required_scope``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None
    """What was wrong, usually ``{path, reason}`` per item."""


def declare_problem_responses(app: Litestar) -> None:
    """Document on every API and webhook operation the problems it can answer with. Guards, dependencies
    and services raise them where Litestar's OpenAPI generator cannot see, so they are added here."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(("/api/", "/hooks/")):
            continue
        for handler in route.route_handlers:
            statuses = {400, 401, 422, 503}
            if route.path.startswith("/api/"):
                statuses |= {403, 429}  # a key without the scope; too many wrong keys, or over its rate
            if "{" in route.path:
                statuses.add(404)
            if handler.http_methods & {"POST", "PUT", "PATCH"}:
                statuses |= {409, 413, 415}
            declared = {
                status: ResponseSpec(
                    ProblemDocument,
                    description=_TITLES[status],
                    media_type=PROBLEM_JSON,
                    generate_examples=False,
                )
                for status in sorted(statuses)
            }
            handler.responses = {**declared, **(handler.responses or {})}


class Problem(HTTPException):
    """An error with a stable problem type, raised by services and controllers alike."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        type_slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.type_slug = type_slug or _SLUGS.get(status_code, "error")
        self.errors = errors
        self.extra_fields = extra


def problem_body(
    status: int, detail: str, instance: str, *, type_slug: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{type_slug or _SLUGS.get(status, 'error')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Map any exception to a problem response; unexpected ones are logged and answered 500."""
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    type_slug = None
    if isinstance(exc, Problem):
        status, detail, type_slug = exc.status_code, str(exc.detail), exc.type_slug
        headers.update(exc.headers or {})
        extra = {"errors": exc.errors, **exc.extra_fields}
    elif isinstance(exc, ValidationException):
        status, detail = 400, "The request body or parameters are not valid."
        extra = {"errors": _validation_errors(exc.extra)}
    elif isinstance(exc, HTTPException):
        status, detail = exc.status_code, str(exc.detail)
        headers.update(exc.headers or {})
    elif isinstance(exc, UnicodeDecodeError):  # the JSON decoder lets it through
        status, detail = 400, "The request body is not valid UTF-8."
        extra = {"errors": [{"path": "body", "reason": "not valid UTF-8"}]}
    elif isinstance(exc, RecursionError):  # the JSON decoder's answer to a body nested without end
        status, detail = 400, "The request body is nested too deeply."
        extra = {"errors": [{"path": "body", "reason": "nested too deeply"}]}
        log.warning("request.nested_too_deeply", path=request.url.path)
    elif isinstance(exc, DBAPIError) and _is_bad_value(exc):
        status, detail = 400, "A value in the request cannot be stored or compared (too large, or a NUL)."
        type_slug = "invalid-value"
        log.warning("request.invalid_value", error=str(exc.orig).splitlines()[0] if exc.orig else "")
    elif isinstance(exc, DBAPIError) and _is_contention(exc):
        status, detail = HTTP_503_SERVICE_UNAVAILABLE, "The request met a concurrent change; retry it."
        type_slug = "retry-conflict"
        headers["Retry-After"] = "1"
        log.warning("request.contention", error=_first_line(exc.orig) if exc.orig else "")
    elif isinstance(exc, OperationalError | InterfaceError | DBAPIError | OSError) and _is_outage(exc):
        status, detail = HTTP_503_SERVICE_UNAVAILABLE, "The database is unreachable; retry shortly."
        type_slug = "database-unavailable"
        headers["Retry-After"] = "5"
        log.warning("request.database_unavailable", error=_first_line(exc))
    elif isinstance(exc, RedisConnectionError | RedisTimeoutError):
        status, detail = HTTP_503_SERVICE_UNAVAILABLE, "Redis is unreachable; retry shortly."
        type_slug = "redis-unavailable"
        headers["Retry-After"] = "5"
        log.warning("request.redis_unavailable", error=str(exc))
    else:
        status, detail = HTTP_500_INTERNAL_SERVER_ERROR, "An unexpected error occurred."
        log.exception("request.failed", path=request.url.path)
    body = problem_body(status, detail, request.url.path, type_slug=type_slug, **extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


CONTENTION_STATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure: nothing was written; the same request
retried succeeds."""


def _is_contention(exc: DBAPIError) -> bool:
    original = exc.orig
    for candidate in (original, getattr(original, "__cause__", None)):
        if getattr(candidate, "sqlstate", None) in CONTENTION_STATES:
            return True
    return False


def _is_bad_value(exc: DBAPIError) -> bool:
    """PostgreSQL's data exceptions (SQLSTATE class 22: a NUL in text, a number out of range) and
    asyncpg's refusal of an argument it cannot encode: a request value no column can hold."""
    original = exc.orig
    for candidate in (original, getattr(original, "__cause__", None)):
        if str(getattr(candidate, "sqlstate", "") or "").startswith("22"):
            return True
        if type(candidate).__name__ == "DataError" and type(candidate).__module__.startswith("asyncpg"):
            return True
    return False


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, or its type when it has none (``TimeoutError()``)."""
    lines = str(exc).splitlines()
    return lines[0] if lines and lines[0] else type(exc).__name__


def _is_outage(exc: Exception) -> bool:
    if isinstance(exc, OSError | InterfaceError | OperationalError):
        return True
    original = getattr(exc, "orig", None)
    return isinstance(original, OSError) or "connection" in type(original).__name__.lower()


def _validation_errors(extra: Any) -> list[dict[str, Any]]:
    """Litestar's validation details as ``{path, reason}`` items."""
    items = extra if isinstance(extra, list) else [extra] if extra else []
    errors = []
    for item in items:
        if isinstance(item, dict):
            errors.append(
                {
                    "path": str(item.get("key") or item.get("source") or ""),
                    "reason": str(item.get("message", item)),
                }
            )
        else:
            errors.append({"path": "", "reason": str(item)})
    return errors
