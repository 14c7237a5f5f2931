"""Serving an ASGI app (a sandbox, a fault proxy) on a real loopback socket for the length of a test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn


@asynccontextmanager
async def serve(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Yield the base URL (``http://127.0.0.1:<port>``) of ``app`` served by uvicorn on a free port."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """``serve`` on an event loop of its own thread: for apps the code under test calls while a test
    client (which runs the app under test in another thread) waits on the test's loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    manager = serve(app, host)
    try:
        url = asyncio.run_coroutine_threadsafe(manager.__aenter__(), loop).result(timeout=30)
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(manager.__aexit__(None, None, None), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
