"""Shopify's Admin GraphQL schema, from the introspection that the pinned npm ``@shopify/dev-mcp`` ships.

Test equipment: the Shopify sandbox validates every query it receives against it, and the tests validate
every operation the connector sends. ``python -m connectors.peers.shopify_schema install`` installs it.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema

PEER_DIR = Path(__file__).resolve().parents[2] / ".ci" / "peers" / "shopify"
DATA_DIR = PEER_DIR / "node_modules" / "@shopify" / "dev-mcp" / "dist" / "data"
API_VERSION = "2026-10"
"""The newest stable Admin API version in the pinned package (a test checks they agree)."""
_ADMIN_FILE = re.compile(r"^admin_(\d{4}-\d{2})\.json\.gz$")


def api_version() -> str:
    """The Admin API version the connector speaks by default and the sandbox serves."""
    return API_VERSION


def ensure_installed() -> Path:
    """Install the pinned package (``npm ci --ignore-scripts``) unless present; safe across processes."""
    marker = DATA_DIR / f"admin_{API_VERSION}.json.gz"
    if marker.exists():
        return DATA_DIR
    with (PEER_DIR / ".install.lock").open("w") as lock:
        # Two test workers may start at once: one installs, the other waits and then finds it done.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():
                npm = shutil.which("npm")
                if npm is None:
                    raise FileNotFoundError("npm is needed to install Shopify's schema package")
                subprocess.run(  # noqa: S603 - fixed arguments, no user input
                    [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                    cwd=PEER_DIR,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not marker.exists():
        raise FileNotFoundError(f"{marker} missing after npm ci: has the pinned package changed?")
    return DATA_DIR


@cache
def shipped_versions() -> list[str]:
    """Stable Admin API versions whose introspection the installed package ships, oldest first."""
    names = (_ADMIN_FILE.match(p.name) for p in ensure_installed().iterdir())
    return sorted(m.group(1) for m in names if m)


@cache
def admin_schema(version: str = API_VERSION) -> GraphQLSchema:
    """The Admin API schema of ``version``, built once per process.

    ``assume_valid``: Shopify's schema fails graphql-core's strict self-check (a required argument is
    deprecated somewhere); that is Shopify's, not ours, and does not affect validating our documents.
    """
    path = ensure_installed() / f"admin_{version}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        introspection = json.load(stream)
    return build_client_schema(introspection["data"], assume_valid=True)


def main(argv: list[str]) -> int:
    if argv[1:] != ["install"]:
        print("usage: python -m connectors.peers.shopify_schema install", file=sys.stderr)
        return 2
    print(ensure_installed())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
