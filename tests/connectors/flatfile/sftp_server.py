"""A real SFTP server for tests: asyncssh on a free loopback port, one user, rooted in a folder.

The user logs in with a password, or with ``client_key`` when one is given.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh


class _LoginServer(asyncssh.SSHServer):
    def __init__(self, username: str, password: str, client_key: asyncssh.SSHKey | None) -> None:
        self._username, self._password, self._client_key = username, password, client_key

    def begin_auth(self, username: str) -> bool:
        return True  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self._username and password == self._password

    def public_key_auth_supported(self) -> bool:
        return self._client_key is not None

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        assert self._client_key is not None
        return username == self._username and key.public_data == self._client_key.public_data


@dataclass(frozen=True)
class SftpServer:
    host: str
    port: int
    username: str
    password: str
    root: Path
    host_key: asyncssh.SSHKey

    @property
    def known_hosts(self) -> str:
        """A known_hosts line pinning this server's host key."""
        return f"[{self.host}]:{self.port} {self.host_key.export_public_key().decode().strip()}\n"


@asynccontextmanager
async def sftp_server(
    root: Path,
    username: str = "store",
    password: str = "s3cret",  # noqa: S107 - a throwaway test server
    client_key: asyncssh.SSHKey | None = None,
) -> AsyncIterator[SftpServer]:
    """Serve ``root`` (with ``inbound``/``outbound`` folders created) until the block ends."""
    for folder in ("inbound", "outbound"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    chroot = str(root).encode()
    acceptor = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        server_factory=lambda: _LoginServer(username, password, client_key),
        sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=chroot),
        allow_scp=False,
    )
    try:
        yield SftpServer("127.0.0.1", acceptor.get_port(), username, password, root, host_key)
    finally:
        acceptor.close()
        await acceptor.wait_closed()


@contextmanager
def sftp_server_in_thread(root: Path) -> Iterator[SftpServer]:
    """The same server on an event loop of its own, for tests whose client blocks the test's loop
    (Litestar's test client runs the app through a blocking portal)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    context = sftp_server(root)
    server = asyncio.run_coroutine_threadsafe(context.__aenter__(), loop).result(timeout=30)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(context.__aexit__(None, None, None), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
