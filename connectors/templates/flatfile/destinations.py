"""Where file and EDI templates put and pick up files: a local folder, or a folder on an SFTP server.

Both write atomically (a hidden ``.<name>.part`` first, then a rename), so a partner polling the
folder never sees half a file; listings skip those hidden names.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import asyncssh

from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import AuthError, ConfigError, PermanentError, TransientError
from connectors.sdk.results import ConnectionCheck
from connectors.sdk.template import ConnectorTemplate

BAD_LOGIN = "SFTP server rejected the username or password"

DESTINATION_PROPERTIES: dict[str, Any] = {
    "transport": {"type": "string", "enum": ["folder", "sftp"], "default": "folder"},
    "path": {
        "type": "string",
        "description": "Folder: an absolute local path. SFTP: the remote base folder ('.' = login folder).",
        "default": ".",
    },
    "outbound_folder": {"type": "string", "default": "outbound", "description": "Relative to path."},
    "inbound_folder": {"type": "string", "default": "inbound", "description": "Relative to path."},
    "host": {"type": "string"},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 22},
    "username": {"type": "string"},
    "password": {"type": "string", "writeOnly": True},
    "private_key": {"type": "string", "writeOnly": True, "description": "OpenSSH or PEM private key."},
    "private_key_passphrase": {"type": "string", "writeOnly": True},
    "host_key_checking": {
        "type": "string",
        "enum": ["strict", "off"],
        "default": "strict",
        "description": "strict: the server's key must be listed in known_hosts (or ~/.ssh/known_hosts).",
    },
    "known_hosts": {"type": "string", "description": "known_hosts lines pinning the server's host key."},
    "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 15},
}
"""Config properties every file-based template shares; SFTP needs host and username when chosen."""

SFTP_REQUIRES: dict[str, Any] = {
    "if": {"properties": {"transport": {"const": "sftp"}}, "required": ["transport"]},
    "then": {"required": ["host", "username"]},
}


@dataclass(frozen=True, slots=True)
class RemoteFile:
    name: str
    modified: datetime


class Destination(Protocol):
    """A pair of folders (outbound, inbound) on some file store."""

    async def check(self, *, inbound: bool, outbound: bool) -> str:
        """Raise a ``ConnectorError`` saying what is wrong; return a one-line description when fine."""

    async def list_files(self, folder: str) -> list[RemoteFile]: ...

    async def read_file(self, folder: str, name: str) -> bytes: ...

    async def read_optional(self, folder: str, name: str) -> bytes | None: ...

    async def write_atomic(self, folder: str, name: str, content: bytes) -> str:
        """Write ``content`` as ``name`` (a free name if taken) and return the name used."""

    async def aclose(self) -> None: ...


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``… so a second file in the same second never overwrites."""
    if name not in taken:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    counter = 2
    while True:
        candidate = f"{stem}-{counter}{dot}{extension}"
        if candidate not in taken:
            return candidate
        counter += 1


def _is_visible(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(".part")


class FolderDestination:
    def __init__(self, root: Path, outbound: str, inbound: str) -> None:
        self._root, self._folders = root, {"outbound": outbound, "inbound": inbound}

    def _dir(self, folder: str) -> Path:
        return self._root / folder

    async def check(self, *, inbound: bool, outbound: bool) -> str:
        if not self._root.is_dir():
            raise ConfigError(f"folder {self._root} does not exist")
        for role, wanted in (("outbound", outbound), ("inbound", inbound)):
            target = self._dir(self._folders[role])
            if wanted and not target.is_dir():
                raise ConfigError(f"{role} folder {target} does not exist")
        if outbound:
            target = self._dir(self._folders["outbound"])
            try:
                with tempfile.NamedTemporaryFile(dir=target, prefix=".shelfsync-probe-"):
                    pass
            except OSError as error:
                raise ConfigError(f"cannot write to {target}: {error.strerror}") from None
        return f"folder {self._root} is reachable and writable"

    async def list_files(self, folder: str) -> list[RemoteFile]:
        target = self._dir(folder)
        try:
            entries = list(os.scandir(target))
        except FileNotFoundError:
            raise ConfigError(f"folder {target} does not exist") from None
        return [
            RemoteFile(entry.name, datetime.fromtimestamp(entry.stat().st_mtime, UTC))
            for entry in entries
            if entry.is_file() and _is_visible(entry.name)
        ]

    async def read_file(self, folder: str, name: str) -> bytes:
        return (self._dir(folder) / name).read_bytes()

    async def read_optional(self, folder: str, name: str) -> bytes | None:
        try:
            return await self.read_file(folder, name)
        except FileNotFoundError:
            return None

    async def write_atomic(self, folder: str, name: str, content: bytes) -> str:
        target = self._dir(folder)
        try:
            target.mkdir(parents=True, exist_ok=True)
            final = _free_name(name, set(os.listdir(target))) if not name.startswith(".") else name
            partial = target / f".{final}.part"
            partial.write_bytes(content)
            # os.replace is atomic on one file system: readers see the old file or the whole new one.
            os.replace(partial, target / final)
        except OSError as error:
            raise TransientError(f"cannot write {name} to {target}: {error.strerror}") from None
        return final

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class SftpSettings:
    host: str
    port: int
    username: str
    password: str | None
    private_key: str | None
    passphrase: str | None
    strict: bool
    known_hosts: str | None
    timeout: float


class SftpDestination:
    """One SSH connection per template instance, opened on first use and closed by ``aclose``."""

    def __init__(self, settings: SftpSettings, base: str, outbound: str, inbound: str) -> None:
        self._settings = settings
        self._base = PurePosixPath(base)
        self._folders = {"outbound": outbound, "inbound": inbound}
        self._connection: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    def _dir(self, folder: str) -> str:
        return str(self._base / folder)

    def _known_hosts(self) -> Any:
        s = self._settings
        if not s.strict:
            return None  # asyncssh: None turns host key checking off
        if s.known_hosts:
            return asyncssh.import_known_hosts(s.known_hosts)
        return ()  # asyncssh: () reads the default ~/.ssh/known_hosts

    async def _client(self) -> asyncssh.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        s = self._settings
        keys: list[asyncssh.SSHKey] | None = None
        if s.private_key:
            try:
                keys = [asyncssh.import_private_key(s.private_key, s.passphrase)]
            except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as error:
                raise ConfigError(f"private_key cannot be read: {error}") from None
        where = f"{s.host}:{s.port}"
        try:
            self._connection = await asyncssh.connect(
                s.host,
                s.port,
                username=s.username,
                password=s.password,
                client_keys=keys,
                agent_path=None,
                known_hosts=self._known_hosts(),
                connect_timeout=s.timeout,
                login_timeout=s.timeout,
            )
            self._sftp = await self._connection.start_sftp_client()
        except asyncssh.PermissionDenied:
            raise AuthError(BAD_LOGIN) from None
        except asyncssh.HostKeyNotVerifiable as error:
            raise PermanentError(
                f"the host key of {where} is not trusted ({error.reason}); add it to known_hosts"
            ) from None
        except (OSError, TimeoutError, asyncssh.Error) as error:
            raise TransientError(f"cannot reach SFTP server {where}: {error}") from None
        return self._sftp

    async def check(self, *, inbound: bool, outbound: bool) -> str:
        sftp = await self._client()
        for role, wanted in (("outbound", outbound), ("inbound", inbound)):
            folder = self._dir(self._folders[role])
            if wanted and not await sftp.isdir(folder):
                raise ConfigError(f"remote {role} folder {folder} does not exist")
        return f"logged in to {self._settings.host}:{self._settings.port} as {self._settings.username}"

    async def list_files(self, folder: str) -> list[RemoteFile]:
        sftp = await self._client()
        try:
            entries = await sftp.readdir(self._dir(folder))
        except asyncssh.SFTPNoSuchFile:
            raise ConfigError(f"remote folder {self._dir(folder)} does not exist") from None
        except asyncssh.SFTPError as error:
            raise TransientError(f"cannot list {self._dir(folder)}: {error.reason}") from None
        return [
            RemoteFile(str(e.filename), datetime.fromtimestamp(e.attrs.mtime or 0, UTC))
            for e in entries
            if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR and _is_visible(str(e.filename))
        ]

    async def read_file(self, folder: str, name: str) -> bytes:
        sftp = await self._client()
        async with sftp.open(f"{self._dir(folder)}/{name}", "rb") as handle:
            content = await handle.read()
        assert isinstance(content, bytes)  # opened in binary mode
        return content

    async def read_optional(self, folder: str, name: str) -> bytes | None:
        try:
            return await self.read_file(folder, name)
        except asyncssh.SFTPNoSuchFile:
            return None

    async def write_atomic(self, folder: str, name: str, content: bytes) -> str:
        sftp = await self._client()
        target = self._dir(folder)
        try:
            taken = set(await sftp.listdir(target))
            final = _free_name(name, taken) if not name.startswith(".") else name
            partial = f"{target}/.{final}.part"
            async with sftp.open(partial, "wb") as handle:
                await handle.write(content)
            if final in taken:
                # Only our own state files are replaced; SFTP v3 rename refuses an existing target.
                await sftp.posix_rename(partial, f"{target}/{final}")
            else:
                await sftp.rename(partial, f"{target}/{final}")
        except asyncssh.SFTPError as error:
            raise TransientError(f"cannot write {name} to {target}: {error.reason}") from None
        return final

    async def aclose(self) -> None:
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        if self._connection is not None:
            self._connection.close()
            await self._connection.wait_closed()
            self._connection = None


async def open_destination(settings: Mapping[str, Any], context: ConnectorContext) -> Destination:
    """The destination a connection's settings describe (network policy checked for SFTP hosts)."""
    outbound, inbound = str(settings["outbound_folder"]), str(settings["inbound_folder"])
    if settings["transport"] == "folder":
        root = Path(str(settings["path"]))
        if not root.is_absolute():
            raise ConfigError("path must be an absolute folder for the folder transport")
        return FolderDestination(root, outbound, inbound)
    host, port = str(settings["host"]), int(settings["port"])
    await context.network.check_host(host, port)
    if not settings.get("password") and not settings.get("private_key"):
        raise ConfigError("SFTP needs a password or a private_key")
    sftp = SftpSettings(
        host=host,
        port=port,
        username=str(settings["username"]),
        password=settings.get("password"),
        private_key=settings.get("private_key"),
        passphrase=settings.get("private_key_passphrase"),
        strict=settings["host_key_checking"] == "strict",
        known_hosts=settings.get("known_hosts"),
        timeout=float(settings["timeout_seconds"]),
    )
    return SftpDestination(sftp, str(settings["path"]), outbound, inbound)


class FileStoreTemplate(ConnectorTemplate):
    """Base of templates that exchange files through a ``Destination`` (folder or SFTP): opens it once,
    closes it with the template, and checks both folders as the connection test."""

    _destination: Destination | None = None

    async def _open(self) -> Destination:
        if self._destination is None:
            self._destination = await open_destination(self.settings, self.context)
        return self._destination

    async def aclose(self) -> None:
        if self._destination is not None:
            await self._destination.aclose()
            self._destination = None

    async def test_connection(self) -> ConnectionCheck:
        destination = await self._open()
        return ConnectionCheck(ok=True, detail=await destination.check(inbound=True, outbound=True))
