"""SSRF guard: connector URLs may not reach private, loopback or link-local addresses unless allowed.

Sandboxes and tests run on 127.0.0.1, so the platform passes an allow-list of host names (or
``allow_private``) in development; production leaves both empty.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.sdk.errors import NetworkPolicyError


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    allow_private: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def permissive(cls) -> NetworkPolicy:
        """For sandboxes, peers and tests on this machine."""
        return cls(allow_private=True)

    def is_public(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_global and not ip.is_multicast

    async def check_url(self, url: str) -> None:
        """Raise ``NetworkPolicyError`` unless every address ``url``'s host resolves to is allowed."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise NetworkPolicyError(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}")
        host = parts.hostname or ""
        if not host:
            raise NetworkPolicyError(f"URL {url!r} has no host")
        if self.allow_private or host in self.allowed_hosts:
            return
        await self.check_host(host, parts.port or (443 if parts.scheme == "https" else 80))

    async def check_host(self, host: str, port: int) -> None:
        if self.allow_private or host in self.allowed_hosts:
            return
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise NetworkPolicyError(f"cannot resolve {host!r}: {error}") from None
        for info in infos:
            address = str(info[4][0])
            if not self.is_public(address):
                raise NetworkPolicyError(
                    f"{host!r} resolves to {address}, a private or local address; "
                    "add the host to the allow-list if this is intended"
                )
