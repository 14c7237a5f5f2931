"""Secrets at rest: AES-256-GCM sealed values open only with their key and for their row."""

from __future__ import annotations

import os

import pytest

from app.crypto import SecretBox, SecretBoxError

OLD = ("k1", os.urandom(32))
NEW = ("k2", os.urandom(32))


class TestSecretBox:
    def test_round_trip_names_the_active_key(self) -> None:
        box = SecretBox((NEW, OLD))
        sealed = box.seal_json({"password": "s3cret"}, b"connection:1")
        assert SecretBox.key_id_of(sealed) == "k2"
        assert "s3cret" not in sealed
        assert box.open_json(sealed, b"connection:1") == {"password": "s3cret"}

    def test_rotation_opens_values_sealed_with_an_older_key(self) -> None:
        sealed_before = SecretBox((OLD,)).seal(b"token", b"row")
        rotated = SecretBox((NEW, OLD))
        assert rotated.open(sealed_before, b"row") == b"token"
        assert SecretBox.key_id_of(rotated.seal(b"token", b"row")) == "k2"

    def test_a_removed_key_is_named(self) -> None:
        sealed = SecretBox((OLD,)).seal(b"token", b"row")
        with pytest.raises(SecretBoxError, match="k1"):
            SecretBox((NEW,)).open(sealed, b"row")

    def test_another_row_cannot_open_it(self) -> None:
        box = SecretBox((NEW,))
        sealed = box.seal(b"token", b"connection:1")
        with pytest.raises(SecretBoxError, match="another row"):
            box.open(sealed, b"connection:2")

    def test_tampering_is_detected(self) -> None:
        box = SecretBox((NEW,))
        kid, _, payload = box.seal(b"token", b"row").partition(":")
        flipped = payload[:-6] + ("A" if payload[-6] != "A" else "B") + payload[-5:]
        with pytest.raises(SecretBoxError):
            box.open(f"{kid}:{flipped}", b"row")

    def test_nonces_differ(self) -> None:
        box = SecretBox((NEW,))
        assert box.seal(b"same", b"row") != box.seal(b"same", b"row")
