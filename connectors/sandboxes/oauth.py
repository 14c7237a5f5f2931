"""An OAuth2 provider sandbox: ``POST /oauth/token`` (client_credentials, authorization_code with a
fixed code, refresh_token with rotation) and ``GET /oauth/authorize``; access tokens are signed with a
secret shared with the REST sandbox, which accepts them as bearer tokens.

Control routes (never faulted): ``POST /_sandbox/oauth/revoke`` with ``{"refresh_token": ...}`` (or
``{}`` for all) makes later refreshes fail with ``invalid_grant``; ``GET /_sandbox/oauth/stats`` counts
token requests by grant, so tests can prove a refresh was single-flight.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Litestar, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect

from connectors.sandboxes.faults import SandboxControl, sandbox_app

DEFAULT_SIGNING_SECRET = "shelfsync-sandbox-signing-secret"  # noqa: S105 - test equipment, not a credential
DEFAULT_CLIENTS = {"shelfsync": "sandbox-client-secret"}
DEFAULT_CODE = "sandbox-code"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def issue_access_token(secret: str, client_id: str, expires_at: float, scope: str | None = None) -> str:
    """``<claims>.<signature>``: readable by anyone, forgeable only with ``secret``."""
    claims = _b64(
        json.dumps({"sub": client_id, "exp": expires_at, "scope": scope, "n": secrets.token_hex(4)}).encode()
    )
    signature = _b64(hmac.new(secret.encode(), claims.encode(), hashlib.sha256).digest())
    return f"{claims}.{signature}"


def verify_access_token(secret: str, token: str, now: float) -> dict[str, Any] | None:
    """The token's claims if ``secret`` signed it and it has not expired; else None."""
    claims, _, signature = token.partition(".")
    expected = _b64(hmac.new(secret.encode(), claims.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except ValueError:
        return None
    return decoded if float(decoded.get("exp", 0)) > now else None


@dataclass
class OAuthState:
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """Live refresh tokens → client id; a used one is removed (rotation)."""
    grants: Counter[str] = field(default_factory=Counter)
    token_requests: int = 0

    def reset(self) -> None:
        self.refresh_tokens.clear()
        self.grants.clear()
        self.token_requests = 0


def _error(error: str, description: str, status: int = 400) -> Response[dict[str, str]]:
    return Response({"error": error, "error_description": description}, status_code=status)


def _client_of(request: Request[Any, Any, Any], form: dict[str, str]) -> tuple[str, str]:
    """Client credentials from HTTP Basic (authlib's default) or from the form."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return form.get("client_id", ""), form.get("client_secret", "")


def create_app(
    *,
    clients: dict[str, str] | None = None,
    signing_secret: str = DEFAULT_SIGNING_SECRET,
    expires_in: int = 300,
    code: str = DEFAULT_CODE,
    clock: Callable[[], float] = time.time,
) -> Litestar:
    """The provider; ``clients`` maps client ids to secrets, ``expires_in`` is the access token life."""
    known = dict(clients or DEFAULT_CLIENTS)
    state = OAuthState()

    def issue(client_id: str, scope: str | None, *, with_refresh: bool) -> dict[str, Any]:
        token: dict[str, Any] = {
            "access_token": issue_access_token(signing_secret, client_id, clock() + expires_in, scope),
            "token_type": "Bearer",
            "expires_in": expires_in,
        }
        if scope:
            token["scope"] = scope
        if with_refresh:
            refresh = secrets.token_urlsafe(16)
            state.refresh_tokens[refresh] = client_id
            token["refresh_token"] = refresh
        return token

    @post("/oauth/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """Issue a token for the client_credentials, authorization_code or refresh_token grant."""
        state.token_requests += 1
        form = {k: str(v) for k, v in (await request.form()).items()}
        grant = form.get("grant_type", "")
        state.grants[grant] += 1
        client_id, client_secret = _client_of(request, form)
        if known.get(client_id) is None or not hmac.compare_digest(known[client_id], client_secret):
            return _error("invalid_client", "unknown client or wrong secret", 401)
        scope = form.get("scope") or None
        if grant == "client_credentials":
            return Response(issue(client_id, scope, with_refresh=False))
        if grant == "authorization_code":
            if form.get("code") != code:
                return _error("invalid_grant", "unknown or used authorization code")
            return Response(issue(client_id, scope, with_refresh=True))
        if grant == "refresh_token":
            owner = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if owner != client_id:
                return _error("invalid_grant", "refresh token revoked, used or unknown")
            return Response(issue(client_id, scope, with_refresh=True))
        return _error("unsupported_grant_type", f"grant {grant!r} is not supported")

    @get("/oauth/authorize")
    async def authorize(
        response_type: str,
        client_id: str,
        redirect_uri: str,
        # ``state`` is Litestar's app state when used as a parameter name, hence the alias.
        client_state: Annotated[str | None, QueryParameter(name="state")] = None,
    ) -> Response[Any]:
        """Grant at once (there is no user to ask) and send the fixed code back to ``redirect_uri``."""
        if response_type != "code" or client_id not in known:
            return _error("invalid_request", "response_type must be code and client_id known")
        query = {"code": code, **({"state": client_state} if client_state is not None else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return Redirect(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

    @post("/_sandbox/oauth/revoke", status_code=204)
    async def revoke(data: dict[str, Any]) -> None:
        """Revoke one refresh token (``{"refresh_token": ...}``) or all of them (``{}``)."""
        if "refresh_token" in data:
            state.refresh_tokens.pop(str(data["refresh_token"]), None)
        else:
            state.refresh_tokens.clear()

    @get("/_sandbox/oauth/stats")
    async def stats() -> dict[str, Any]:
        """How many token requests arrived, in all and by grant type."""
        return {"token_requests": state.token_requests, "grants": dict(state.grants)}

    control = SandboxControl()
    control.reset_hooks.append(state.reset)
    app = sandbox_app([token, authorize, revoke, stats], control=control)
    app.state.oauth = state
    return app
