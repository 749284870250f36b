"""Envelope encryption: a fresh AES-256-GCM data key per secret, wrapped by the KEK.

The secret's reference is the associated data of both encryptions, so a sealed secret (or its
wrapped key) copied under another reference does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helios.ports.secrets import (
    KeyEncryptionKey,
    SealedSecret,
    SecretConflict,
    SecretNotFound,
    SecretStore,
    SecretUnreadable,
)

_NONCE_BYTES = 12
_KEY_BYTES = 32


def parse_kek(text: str) -> bytes:
    """A KEK setting: 32 bytes in URL-safe or standard base64.

    Raises:
        ValueError: not base64 of exactly 32 bytes.
    """
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except ValueError:
        raise ValueError("the key-encryption key must be base64") from None
    if len(key) != _KEY_BYTES:
        raise ValueError(f"the key-encryption key must be {_KEY_BYTES} bytes, not {len(key)}")
    return key


def new_kek_text() -> str:
    """A fresh KEK in the form ``parse_kek`` reads."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode("ascii")


class LocalKek:
    """A ``KeyEncryptionKey`` held in process (from the settings): AES-256-GCM key wrapping."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"a KEK is {_KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        # An id that names the key without revealing it.
        self._key_id = "local:" + hashlib.sha256(b"helios-kek-id\x00" + key).hexdigest()[:16]

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, data_key: bytes, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, context.encode("utf-8"))

    def unwrap(self, wrapped: bytes, *, context: str) -> bytes:
        """The data key wrapped for ``context``.

        Raises:
            SecretUnreadable: not wrapped by this key for this context, or altered.
        """
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context.encode("utf-8")
            )
        except (InvalidTag, ValueError):
            raise SecretUnreadable(f"the data key of {context!r} does not unwrap") from None


class EnvelopeVault:
    """``SecretVault`` over a ``SecretStore`` and a ``KeyEncryptionKey``."""

    def __init__(self, store: SecretStore, kek: KeyEncryptionKey) -> None:
        self._store = store
        self._kek = kek

    def seal(self, ref: str, plaintext: str) -> None:
        """Encrypt ``plaintext`` with a new data key and store it under ``ref``.

        Raises:
            SecretConflict: another secret has this reference.
            SecretUnavailable: the store or the KEK cannot be reached.
        """
        if self._store.get(ref) is not None:
            raise SecretConflict(f"a secret is stored under {ref!r} already")
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = SealedSecret(
            ref=ref,
            kek_id=self._kek.key_id,
            wrapped_key=self._kek.wrap(data_key, context=ref),
            nonce=nonce,
            ciphertext=AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), ref.encode()),
        )
        self._store.put(sealed)

    def reveal(self, ref: str) -> str:
        """The plaintext stored under ``ref``.

        Raises:
            SecretNotFound: nothing is stored under ``ref``.
            SecretUnreadable: it does not decrypt with this vault's KEK.
            SecretUnavailable: the store or the KEK cannot be reached.
        """
        sealed = self._store.get(ref)
        if sealed is None:
            raise SecretNotFound(ref)
        if sealed.kek_id != self._kek.key_id:
            raise SecretUnreadable(f"{ref!r} is sealed by another KEK ({sealed.kek_id})")
        data_key = self._kek.unwrap(sealed.wrapped_key, context=ref)
        try:
            plain = AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, ref.encode())
        except (InvalidTag, ValueError):
            raise SecretUnreadable(f"{ref!r} does not decrypt") from None
        return plain.decode("utf-8")
