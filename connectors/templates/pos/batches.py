"""Sending a batch so one object Square rejects does not sink the rest: on a 400, split and retry.

Payloads are checked before sending, so a rejected batch is rare (a currency the merchant does not
use, a stale version); halving finds the culprits in O(bad × log n) requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from connectors.sdk.errors import PermanentError
from connectors.sdk.results import WriteResult
from connectors.templates.pos.payloads import Prepared
from connectors.templates.pos.square_errors import square_error_text

Send = Callable[[Sequence[Prepared]], Awaitable[list[WriteResult]]]


async def send_isolating(prepared: Sequence[Prepared], send: Send) -> list[WriteResult]:
    """``send`` the batch; if Square refuses it whole, bisect until each refusal names one record."""
    if not prepared:
        return []
    try:
        return await send(prepared)
    except PermanentError as error:
        if len(prepared) == 1:
            only = prepared[0]
            return [WriteResult.failed(only.index, square_error_text(error.message), only.sku)]
    middle = len(prepared) // 2
    return await send_isolating(prepared[:middle], send) + await send_isolating(prepared[middle:], send)
