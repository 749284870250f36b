"""The secret ports: integration secrets kept outside the event log, encrypted at rest.

Envelope encryption: each secret is encrypted (AES-256-GCM) with a data key of its own, and
the data key is stored only *wrapped* by a key-encryption key (KEK). Three ports:

- ``SecretStore`` keeps sealed secrets and never sees a plaintext or a key (memory, SQLite,
  PostgreSQL);
- ``KeyEncryptionKey`` wraps and unwraps data keys: a key from the settings, or a KMS key (its
  ``Encrypt``/``Decrypt`` calls fit ``wrap``/``unwrap``; the KEK never leaves the KMS);
- ``SecretVault`` is what the application uses: seal a plaintext under a reference, reveal it.

A reference names one secret for good: a rotation seals a new secret under a new reference, so
a stored secret is never overwritten and a cache of revealed secrets never goes stale.
"""

from __future__ import annotations

from typing import Protocol

import attrs


@attrs.frozen(kw_only=True)
class SealedSecret:
    """A secret as stored: nothing in it is readable without the KEK named by ``kek_id``."""

    ref: str
    kek_id: str
    wrapped_key: bytes = attrs.field(repr=False)
    nonce: bytes
    ciphertext: bytes = attrs.field(repr=False)


class SecretError(Exception):
    """Base of the errors secret adapters raise instead of their drivers' errors."""


class SecretUnavailable(SecretError):
    """The secret store or the KEK cannot be reached now: retry later."""


class SecretNotFound(SecretError):
    """No secret is stored under this reference."""


class SecretUnreadable(SecretError):
    """The stored secret does not decrypt: another KEK, or altered bytes."""


class SecretConflict(SecretError):
    """Another secret is stored under this reference already."""


class SecretStore(Protocol):
    """Keeps sealed secrets by reference."""

    def put(self, sealed: SealedSecret) -> None:
        """Store ``sealed``; storing the same secret again changes nothing.

        Raises:
            SecretConflict: another secret has this reference.
            SecretUnavailable: the store cannot be reached.
        """
        ...

    def get(self, ref: str) -> SealedSecret | None:
        """The secret stored under ``ref``, if any.

        Raises:
            SecretUnavailable: the store cannot be reached.
        """
        ...

    def close(self) -> None: ...


class KeyEncryptionKey(Protocol):
    """Wraps data keys (a key from the settings, or a KMS key)."""

    @property
    def key_id(self) -> str:
        """Which KEK this is (recorded with each secret, so a KEK can be rotated)."""
        ...

    def wrap(self, data_key: bytes, *, context: str) -> bytes:
        """``data_key`` encrypted, bound to ``context`` (the secret's reference).

        Raises:
            SecretUnavailable: the KMS cannot be reached.
        """
        ...

    def unwrap(self, wrapped: bytes, *, context: str) -> bytes:
        """The data key ``wrap`` was given for this ``context``.

        Raises:
            SecretUnreadable: not wrapped by this KEK for this context, or altered.
            SecretUnavailable: the KMS cannot be reached.
        """
        ...


class SecretVault(Protocol):
    """Seals and reveals secrets (envelope encryption over a ``SecretStore``)."""

    def seal(self, ref: str, plaintext: str) -> None:
        """Encrypt and store ``plaintext`` under ``ref``.

        Raises:
            SecretConflict: another secret has this reference.
            SecretUnavailable: the store or the KEK cannot be reached.
        """
        ...

    def reveal(self, ref: str) -> str:
        """The plaintext stored under ``ref``.

        Raises:
            SecretNotFound: nothing is stored under ``ref``.
            SecretUnreadable: it does not decrypt with the KEK it names.
            SecretUnavailable: the store or the KEK cannot be reached.
        """
        ...
