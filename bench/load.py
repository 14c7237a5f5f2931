"""The HTTP load generator the API and noisy-neighbour benchmarks run as their own process: open-loop
reads at a fixed rate, closed-loop event batches, or a burst of reads as fast as the server answers, over
kept-alive HTTP/1.1 connections; raw timings go back as JSON.

``python -m bench.load SPEC OUT`` reads a spec (JSON) and writes what each request measured. Only the
standard library (and uvloop when present) is imported, and requests are written and parsed by hand, so
the generator's own cost per request stays far below the server's and does not become the figure.

Open loop: request ``i`` is due at ``start + i / rate`` whether or not earlier ones have answered, and
its latency runs from that due time, so a stall in the server (or a wait for a free connection) shows
in the figures instead of silently lowering the offered rate (coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONNECT_ERRORS = (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError)


class Connection:
    """One kept-alive HTTP/1.1 connection to the API; answers with Content-Length or chunked bodies."""

    def __init__(self, base_url: str, key: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.head = f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {key}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        status, answer, _ = await self.exchange(method, path, body)
        return status, answer

    async def exchange(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, bytes, dict[bytes, bytes]]:
        """One request; the status, the body and the answer's header fields (names in lower case)."""
        if self.reader is None or self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.head}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, is_chunked, is_closing = 0, False, False
        fields: dict[bytes, bytes] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            fields[name] = value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                is_chunked = b"chunked" in value.lower()
            elif name == b"connection":
                is_closing = b"close" in value.lower()
        if is_chunked:
            content = bytearray()
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                content += await self.reader.readexactly(size + 2)
                del content[-2:]
            await self.reader.readline()
            answer = bytes(content)
        else:
            answer = await self.reader.readexactly(length)
        if is_closing:
            self.close()
        return status, answer, fields


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """GET ``paths`` in turn at ``rate`` requests/s for ``warmup_seconds`` + ``seconds``; per request
    (warm-up excluded): path index, due offset (s), latency from the due time (s), status (0: the connection
    failed). Requests still unanswered ``drain_seconds`` after the last is due are given up (status -1,
    latency up to then: a lower bound), so an overloaded server cannot make the run last as long as its
    backlog, and its stall still shows in the percentiles."""
    paths: list[str] = spec["paths"]
    rate: float = spec["rate"]
    warmup: float = spec.get("warmup_seconds", 0)
    total = int(rate * (warmup + spec["seconds"]))
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(spec["connections"]):
        connection = Connection(spec["api"], spec["key"])
        await connection.open()
        pool.put_nowait(connection)
    records: list[tuple[int, float, float, int]] = []
    start = loop.time() + 0.1

    async def one(n: int, due: float) -> None:
        connection = await pool.get()
        try:
            status, _ = await connection.request("GET", paths[n % len(paths)])
        except CONNECT_ERRORS:
            status = 0
            connection.close()
        finally:
            pool.put_nowait(connection)
        if due - start >= warmup:
            records.append((n % len(paths), round(due - start - warmup, 4), loop.time() - due, status))

    tasks: list[asyncio.Task[None]] = []
    for n in range(total):
        due = start + n / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    finished = loop.time()
    _, pending = await asyncio.wait(tasks, timeout=spec.get("drain_seconds", 10))
    given_up = loop.time()
    unanswered = 0
    for n, task in enumerate(tasks):
        if task in pending:
            task.cancel()
            due = start + n / rate
            if due - start >= warmup:  # its latency is at least this long: kept, as a lower bound
                records.append((n % len(paths), round(due - start - warmup, 4), given_up - due, -1))
                unanswered += 1
    return {
        "records": records,
        "seconds": finished - start - warmup,
        "answering_seconds": given_up - start - warmup,
        "unanswered": unanswered,
    }


def stock_batches(spec: dict[str, Any]) -> Any:
    """Endless batches of absolute counts over ``skus`` SKUs, each with a newer ``source_version``."""
    rng = random.Random(3)
    skus = [f"{spec['sku_prefix']}{n:07d}" for n in range(1, spec["skus"] + 1)]
    version = itertools.count(1)
    while True:
        items = []
        for sku in rng.sample(skus, spec["batch"]):
            items.append(
                {
                    "sku": sku,
                    "location": "WH1",
                    "on_hand": rng.randint(0, 5_000),
                    "source": "bench-api",
                    "source_id": f"{sku}@WH1",
                    "source_version": next(version),
                }
            )
        yield json.dumps({"items": items}).encode()


async def closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """POST batches to ``path`` on ``connections`` connections, each sending its next batch when the
    last is answered, for ``seconds``; per request: latency (s), status, events accepted."""
    loop = asyncio.get_running_loop()
    batches = stock_batches(spec)
    records: list[tuple[float, int, int]] = []
    started = loop.time()
    deadline = started + spec["seconds"]

    async def sender() -> None:
        connection = Connection(spec["api"], spec["key"])
        await connection.open()
        while loop.time() < deadline:
            body = next(batches)
            began = loop.time()
            try:
                status, answer = await connection.request("POST", spec["path"], body)
            except CONNECT_ERRORS:
                status, answer = 0, b""
                connection.close()
            accepted = json.loads(answer)["accepted"] if status == 202 else 0
            records.append((loop.time() - began, status, accepted))
        connection.close()

    await asyncio.gather(*(sender() for _ in range(spec["connections"])))
    return {"records": records, "seconds": loop.time() - started}


async def burst(spec: dict[str, Any]) -> dict[str, Any]:
    """GET ``path`` ``requests`` times, each of ``connections`` connections sending its next request as
    soon as the last is answered (as fast as the server answers); per request: latency (s), status, and
    whether a 429 carried a ``Retry-After`` field and the ``rate-limited`` problem type."""
    loop = asyncio.get_running_loop()
    numbers = itertools.count()
    records: list[tuple[float, int, bool]] = []
    started = loop.time()

    async def sender() -> None:
        connection = Connection(spec["api"], spec["key"])
        await connection.open()
        while next(numbers) < spec["requests"]:
            began = loop.time()
            try:
                status, answer, fields = await connection.exchange("GET", spec["path"])
            except CONNECT_ERRORS:
                status, answer, fields = 0, b"", {}
                connection.close()
            is_told = status == 429 and b"retry-after" in fields and b"rate-limited" in answer
            records.append((loop.time() - began, status, is_told))
        connection.close()

    await asyncio.gather(*(sender() for _ in range(spec["connections"])))
    return {"records": records, "seconds": loop.time() - started}


def main(argv: list[str] | None = None) -> None:
    spec_path, out_path = argv or sys.argv[1:3]
    spec = json.loads(Path(spec_path).read_text())
    run: Any = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # the standard loop measures the same thing, at a little more cost per request
        pass
    began = time.time()
    runner = {"open": open_loop, "closed": closed_loop, "burst": burst}[spec["mode"]]
    result = run(runner(spec))
    result["began"] = began
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
