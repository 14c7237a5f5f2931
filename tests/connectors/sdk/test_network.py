"""The SSRF guard: private, loopback and link-local addresses and non-HTTP schemes are refused unless
a host is allow-listed or the policy is permissive."""

from __future__ import annotations

import pytest

from connectors.sdk.errors import NetworkPolicyError
from connectors.sdk.network import NetworkPolicy

STRICT = NetworkPolicy()


class TestRefused:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8000/items",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://172.16.5.4/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://0.0.0.0/",
        ],
    )
    async def test_private_addresses(self, url: str) -> None:
        with pytest.raises(
            NetworkPolicyError, match="private or local address; add the host to the allow-list"
        ):
            await STRICT.check_url(url)

    @pytest.mark.parametrize(
        "url", ["ftp://example.com/file", "file:///etc/passwd", "gopher://x/", "example.com/x"]
    )
    async def test_non_http_schemes(self, url: str) -> None:
        with pytest.raises(NetworkPolicyError, match="only http and https URLs are allowed"):
            await STRICT.check_url(url)

    async def test_no_host(self) -> None:
        with pytest.raises(NetworkPolicyError, match="has no host"):
            await STRICT.check_url("http:///path")

    async def test_unresolvable_host(self) -> None:
        with pytest.raises(NetworkPolicyError, match="cannot resolve"):
            await STRICT.check_url("https://no-such-host.invalid/")


class TestAllowed:
    async def test_public_address(self) -> None:
        await STRICT.check_url("https://93.184.215.14/")  # a global address literal: no DNS needed

    async def test_allow_list(self) -> None:
        policy = NetworkPolicy(allowed_hosts=frozenset({"127.0.0.1"}))
        await policy.check_url("http://127.0.0.1:8000/")
        with pytest.raises(NetworkPolicyError):
            await policy.check_url("http://localhost:8000/")

    async def test_permissive(self) -> None:
        await NetworkPolicy.permissive().check_url("http://10.0.0.1/")
        with pytest.raises(NetworkPolicyError, match="only http and https"):
            await NetworkPolicy.permissive().check_url("file:///etc/passwd")
