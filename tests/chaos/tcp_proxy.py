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
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

T = TypeVar("T")

CHUNK = 65536


class LinkState(enum.Enum):
    OPEN = "open"
    CUT = "cut"
    BLACKHOLE = "blackhole"


Upstream = tuple[str, int] | str
"""Where the proxy forwards to: a TCP ``(host, port)``, or the path of a Unix socket (the embedded
PostgreSQL and Redis listen on sockets only)."""


class TcpFaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` until told otherwise."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
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
        """``url`` (``postgresql://…``, ``redis://…``, ``unix://…``) pointed at the proxy instead."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.scheme == "unix":  # redis over a socket: the database number moves into the path
            database = query.get("db", ["0"])[0]
            return f"redis://127.0.0.1:{self.port}/{database}"
        query.pop("host", None)  # PostgreSQL's socket directory
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, doseq=True)))

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
            if isinstance(self.upstream, str):
                upstream_reader, upstream_writer = await asyncio.open_unix_connection(self.upstream)
            else:
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


def upstream_of(url: str) -> Upstream:
    """The TCP address or Unix socket a service URL names: ``postgresql://u@h:p/db``,
    ``postgresql://u@/db?host=/socket/dir`` (libpq's socket file in that directory), ``redis://h:p/0``
    or ``unix:///path/redis.socket?db=0``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if socket_dir.startswith("/"):
        return f"{socket_dir}/.s.PGSQL.{parts.port or 5432}"
    if not (parts.hostname and parts.port):
        raise ValueError(f"{url} needs a host and a port, or a socket, to be proxied")
    return (parts.hostname, parts.port)


@contextmanager
def proxied(url: str) -> Iterator[TcpFaultProxy]:
    """A started proxy in front of the service ``url`` names, stopped afterwards."""
    proxy = TcpFaultProxy(upstream_of(url))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
