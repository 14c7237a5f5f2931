"""Encryption of secrets at rest (connector credentials, OAuth2 tokens): AES-256-GCM with key ids.

A sealed value is ``<key id>:<base64 nonce + ciphertext + tag>``. The key id names which key of
``ENCRYPTION_KEYS`` sealed it, so keys rotate by putting a new key first: new values use it, old ones
still open. The associated data binds a value to its row (e.g. the connection id), so a ciphertext
copied onto another row does not open.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.settings import Settings

NONCE_BYTES = 12


class SecretBoxError(Exception):
    """A sealed value cannot be opened: unknown key id, tampering, or the wrong row."""


class SecretBox:
    def __init__(self, keys: tuple[tuple[str, bytes], ...]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._active_id = keys[0][0]
        self._keys = {kid: AESGCM(key) for kid, key in keys}

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(settings.encryption_keys)

    @property
    def active_key_id(self) -> str:
        return self._active_id

    def seal(self, plaintext: bytes, associated_data: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._active_id].encrypt(nonce, plaintext, associated_data)
        return f"{self._active_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, associated_data: bytes) -> bytes:
        kid, _, payload = sealed.partition(":")
        key = self._keys.get(kid)
        if key is None:
            raise SecretBoxError(f"no encryption key with id {kid!r} (was it removed from ENCRYPTION_KEYS?)")
        raw = base64.b64decode(payload)
        try:
            return key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise SecretBoxError("sealed value does not open: tampered, or sealed for another row") from None

    def seal_json(self, value: dict[str, Any], associated_data: bytes) -> str:
        return self.seal(json.dumps(value, separators=(",", ":")).encode(), associated_data)

    def open_json(self, sealed: str, associated_data: bytes) -> dict[str, Any]:
        value = json.loads(self.open(sealed, associated_data))
        assert isinstance(value, dict)
        return value

    @staticmethod
    def key_id_of(sealed: str) -> str:
        return sealed.partition(":")[0]
