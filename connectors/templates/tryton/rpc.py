"""Tryton's JSON-RPC: login, session header, calls, its value encoding and its error answers.

``POST /<db>/rpc/`` with ``{"id", "method", "params"}``; ``common.db.login`` returns a session that
goes into ``Authorization: Session base64(login:user_id:session)``. Tryton answers errors with HTTP 200
and ``{"error": [kind, args]}``: those are mapped to ``AuthError`` (access denied) or
``PermanentError`` (validation, user errors) carrying Tryton's own message.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError, PermanentError, TransientError
from connectors.sdk.http import ConnectorHttp

ACCESS_DENIED_PREFIXES = (
    "You are not allowed to access",
    "You are not allowed to execute",
    "You are not allowed to search on",
    "Calling ",
)


def encode_value(value: Any) -> Any:
    """Python values → Tryton's JSON: Decimal, datetime and date become ``{"__class__": ...}`` objects."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            # Tryton stores naive UTC datetimes.
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {key: encode_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    return value


def decode_object(obj: dict[str, Any]) -> Any:
    """``json.loads`` object hook: Tryton's ``__class__`` objects back to Decimal, datetime, date, bytes."""
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"],
            obj["microsecond"], tzinfo=dt.UTC,
        )  # fmt: skip
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "time":
        return dt.time(obj["hour"], obj["minute"], obj["second"], obj["microsecond"])
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def error_of(method: str, error: Any) -> PermanentError | AuthError | TransientError:
    """The connector error for Tryton's ``error`` member of an answer."""
    if isinstance(error, list) and len(error) == 2 and isinstance(error[1], list | tuple):
        kind, args = error[0], error[1]
        message = str(args[0]) if args else kind
        if kind == "UserWarning" and len(args) > 1:
            message = str(args[1])
        description = str(args[1]) if kind == "UserError" and len(args) > 1 and args[1] else ""
        text = f"{message} {description}".strip()
        if kind == "LoginException":
            return AuthError(f"Tryton asks for {args[0]!r} to log in: the password is missing")
        if kind == "UserError" and message.startswith(ACCESS_DENIED_PREFIXES):
            return AuthError(f"Tryton denied access for {method}: {text}")
        if kind == "ConcurrencyException":
            return TransientError(f"Tryton reports a concurrent change in {method}: {text}")
        return PermanentError(f"Tryton rejected {method}: {text}")
    # A server-side exception: [str(exception), traceback].
    summary = str(error[0]) if isinstance(error, list) and error else str(error)
    return PermanentError(f"Tryton failed on {method}: {summary[:300]}")


class TrytonRpc:
    """A logged-in JSON-RPC session with one Tryton database; logs in again when the session expires."""

    def __init__(
        self, context: ConnectorContext, *, base_url: str, database: str, username: str, password: str
    ) -> None:
        self._http = ConnectorHttp(context, base_url=base_url)
        self._path = f"/{database}/rpc/"
        self.database = database
        self.username = username
        self._password = password
        self._authorization: str | None = None
        self.user_id: int | None = None
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, method: str, params: list[Any], headers: dict[str, str]) -> Any:
        body = json.dumps({"id": next(self._ids), "method": method, "params": encode_value(params)})
        headers = {**headers, "Content-Type": "application/json"}
        response = await self._http.request("POST", self._path, content=body, headers=headers)
        try:
            answer = json.loads(response.text, object_hook=decode_object)
        except ValueError:
            raise TransientError(f"Tryton answered {method} with something that is not JSON") from None
        if not isinstance(answer, dict):
            raise PermanentError(f"Tryton answered {method} with an unexpected body")
        if "error" in answer and answer["error"] is not None:
            raise error_of(method, answer["error"])
        return answer.get("result")

    async def login(self) -> int:
        """Open a session; ``AuthError`` with a plain message when the login or password is wrong."""
        try:
            result = await self._post("common.db.login", [self.username, {"password": self._password}], {})
        except AuthError as error:
            if error.status in (401, 403):
                raise AuthError(
                    f"Tryton refused the login of {self.username!r} on database {self.database!r}: "
                    "wrong user name or password",
                    status=error.status,
                ) from None
            raise
        except PermanentError as error:
            if error.status == 404:
                raise PermanentError(
                    f"Tryton has no database {self.database!r} at this address", status=404
                ) from None
            raise
        user_id, session = int(result[0]), str(result[1])
        token = base64.b64encode(f"{self.username}:{user_id}:{session}".encode()).decode()
        self._authorization = f"Session {token}"
        self.user_id = user_id
        return user_id

    async def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` (e.g. ``model.product.product.search``) with positional params."""
        if self._authorization is None:
            await self.login()
        assert self._authorization is not None
        try:
            return await self._post(method, list(params), {"Authorization": self._authorization})
        except AuthError as error:
            if error.status != 401:
                raise
        # Sessions expire (``session.timeout``); one fresh login, then the error stands.
        await self.login()
        return await self._post(method, list(params), {"Authorization": self._authorization})

    async def model(self, model: str, method: str, *params: Any) -> Any:
        return await self.call(f"model.{model}.{method}", *params)
