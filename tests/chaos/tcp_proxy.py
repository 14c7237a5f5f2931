"""A TCP fault proxy put between the app and a real service (PostgreSQL, Redis, a sandbox), on an
event loop of its own thread, so a test can cut the link without stopping the shared service.

Three states: ``restore()`` forwards bytes both ways; ``cut()`` resets every open connection and every
new one at once (the peer is down: callers fail fast); ``blackhole()`` accepts connections and stops
forwarding, silently (a partition: callers hang unless they time out). Leaving the blackhole lets the
held bytes through again, as a healed network would.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")

CHUNK = 65536


class LinkState(enum.Enum):
    OPEN = "open"
    CUT = "cut"
    BLACKHOLE = "blackhole"


class TcpFaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_host:upstream_port`` until told otherwise."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.connections = 0
        """How many client connections were accepted, whatever the state (a reconnect shows here)."""
        self._state = LinkState.OPEN
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._links: set[asyncio.Task[None]] = set()

    def address_of(self, url: str) -> str:
        """``url`` (``postgresql://…``, ``redis://…``) with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # -- driving it from the test's thread ------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._call(self._start())

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """Reset every connection, and each new one as it arrives."""
        self._call(self._set(LinkState.CUT))

    def blackhole(self) -> None:
        """Keep connections open and accept new ones, but forward nothing."""
        self._call(self._set(LinkState.BLACKHOLE))

    def restore(self) -> None:
        """Forward again (bytes held by a blackhole go through)."""
        self._call(self._set(LinkState.OPEN))

    @property
    def state(self) -> LinkState:
        return self._state

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    # -- the proxy, on its own loop ---------------------------------------------------------------

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._reset_all()
        for link in list(self._links):
            link.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _set(self, state: LinkState) -> None:
        assert self._flowing is not None
        self._state = state
        if state is LinkState.OPEN:
            self._flowing.set()
            return
        self._flowing.clear()
        if state is LinkState.CUT:
            self._reset_all()

    def _is_cut(self) -> bool:
        return self._state is LinkState.CUT

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        try:
            await self._link(reader, writer)
        finally:
            self._links.discard(link)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._state is LinkState.CUT:
            _reset(writer)
            return
        self._writers.add(writer)
        assert self._flowing is not None
        await self._flowing.wait()  # a blackhole holds a new connection before it reaches the service
        if self._is_cut() or writer.is_closing():
            _reset(writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        self._writers.add(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )
        for end in (writer, upstream_writer):
            self._writers.discard(end)
            end.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while chunk := await reader.read(CHUNK):
                await self._flowing.wait()
                if writer.is_closing():
                    break
                writer.write(chunk)
                await writer.drain()
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN: the peer sees "connection reset", as when a host goes down."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextmanager
def proxied(url: str) -> Iterator[TcpFaultProxy]:
    """A started proxy in front of the host and port of ``url``, stopped afterwards."""
    parts = urlsplit(url)
    if not (parts.hostname and parts.port):
        raise ValueError(f"{url} needs a host and a port to be proxied")
    proxy = TcpFaultProxy(parts.hostname, parts.port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
