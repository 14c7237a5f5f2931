"""Fault injection shared by every sandbox and by the proxy in front of real peers.

``POST /_sandbox/faults`` with ``{"status": 429, "count": 2, "retry_after": 1}`` makes the next two
requests answer 429 with ``Retry-After: 1``; ``{"status": 503, "count": 3}`` gives a burst of 503s;
``{"delay": 0.5, "count": 1}`` slows one answer. Faults queue up and are used in order.
``DELETE /_sandbox/faults`` clears them, ``GET /_sandbox/requests`` lists what was received (method,
path, status, the caller's ``X-Correlation-Id``) and ``POST /_sandbox/reset`` also clears the
sandbox's own state.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, delete, get, post
from litestar.types import ControllerRouterHandler

CONTROL_PREFIX = "/_sandbox"


class FaultSpec(msgspec.Struct, forbid_unknown_fields=True):
    status: int | None = None
    count: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    body: str | None = None


@dataclass
class SandboxControl:
    faults: deque[FaultSpec] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    reset_hooks: list[Callable[[], None]] = field(default_factory=list)

    def take_fault(self) -> FaultSpec | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self.faults.popleft()
        return fault

    def reset(self) -> None:
        self.faults.clear()
        self.requests.clear()
        for hook in self.reset_hooks:
            hook()


def _control_handlers(control: SandboxControl) -> list[ControllerRouterHandler]:
    @post(f"{CONTROL_PREFIX}/faults", status_code=201)
    async def add_fault(data: FaultSpec) -> dict[str, int]:
        control.faults.append(data)
        return {"queued": len(control.faults)}

    @delete(f"{CONTROL_PREFIX}/faults", status_code=204)
    async def clear_faults() -> None:
        control.faults.clear()

    @get(f"{CONTROL_PREFIX}/requests")
    async def list_requests() -> list[dict[str, Any]]:
        return control.requests

    @post(f"{CONTROL_PREFIX}/reset", status_code=204)
    async def reset() -> None:
        control.reset()

    return [add_fault, clear_faults, list_requests, reset]


def sandbox_app(
    handlers: Sequence[ControllerRouterHandler],
    *,
    control: SandboxControl | None = None,
    fault_response: Callable[[FaultSpec], Response[Any]] | None = None,
    **litestar_options: Any,
) -> Litestar:
    """A Litestar app serving ``handlers`` plus the ``/_sandbox`` control routes, with faults applied.

    ``fault_response`` shapes an injected fault's answer the way the remote system shapes its errors
    (a client that parses error bodies then sees what it would see from the real system)."""
    control = control or SandboxControl()

    async def before_request(request: Request[Any, Any, Any]) -> Response[Any] | None:
        if request.url.path.startswith(CONTROL_PREFIX):
            return None
        fault = control.take_fault()
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "status": None,
            "correlation_id": request.headers.get("x-correlation-id"),
        }
        control.requests.append(entry)
        if fault is None:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is None:
            return None
        entry["status"] = fault.status
        if fault_response is not None:
            return fault_response(fault)
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        body = fault.body or ("Too Many Requests" if fault.status == 429 else "Injected fault")
        return Response(content={"errors": body}, status_code=fault.status, headers=headers)

    app = Litestar(
        route_handlers=[*handlers, *_control_handlers(control)],
        before_request=before_request,
        openapi_config=None,
        **litestar_options,
    )
    app.state.control = control
    return app
