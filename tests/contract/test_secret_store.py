"""The secret store contract, run against every adapter (memory, SQLite, PostgreSQL) through
the envelope vault: what is sealed is revealed, nothing readable is at rest, and a secret
sealed under one reference or KEK does not open under another."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from helios.adapters.secrets.envelope import EnvelopeVault, LocalKek, new_kek_text, parse_kek
from helios.adapters.secrets.stores import open_secret_store
from helios.ports.secrets import (
    SealedSecret,
    SecretConflict,
    SecretNotFound,
    SecretStore,
    SecretUnreadable,
)

SECRET = "whsec_the-plaintext-that-must-never-be-stored"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SecretStore]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:{tmp_path / 'secrets.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        schema = f"sec_{uuid.uuid4().hex[:10]}"
        url = f"{base}?schema={schema}"
    opened = open_secret_store(url)
    yield opened
    opened.close()
    if request.param == "postgres":
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def kek() -> LocalKek:
    return LocalKek(parse_kek(new_kek_text()))


def test_a_sealed_secret_is_revealed_by_the_same_kek(store: SecretStore) -> None:
    vault = EnvelopeVault(store, kek())
    vault.seal("int_1/signing/1", SECRET)
    assert vault.reveal("int_1/signing/1") == SECRET


def test_nothing_readable_is_at_rest(store: SecretStore) -> None:
    vault = EnvelopeVault(store, kek())
    vault.seal("int_1/signing/1", SECRET)
    sealed = store.get("int_1/signing/1")
    assert sealed is not None
    stored = sealed.wrapped_key + sealed.nonce + sealed.ciphertext
    assert SECRET.encode() not in stored and b"plaintext" not in stored


def test_each_secret_has_its_own_data_key(store: SecretStore) -> None:
    vault = EnvelopeVault(store, kek())
    vault.seal("a", SECRET)
    vault.seal("b", SECRET)
    a, b = store.get("a"), store.get("b")
    assert a is not None and b is not None
    assert a.wrapped_key != b.wrapped_key and a.ciphertext != b.ciphertext


def test_another_kek_cannot_reveal_a_secret(store: SecretStore) -> None:
    EnvelopeVault(store, kek()).seal("a", SECRET)
    with pytest.raises(SecretUnreadable):
        EnvelopeVault(store, kek()).reveal("a")


def test_a_secret_moved_under_another_reference_does_not_decrypt(store: SecretStore) -> None:
    key = kek()
    EnvelopeVault(store, key).seal("a", SECRET)
    sealed = store.get("a")
    assert sealed is not None
    store.put(
        SealedSecret(
            ref="b",
            kek_id=sealed.kek_id,
            wrapped_key=sealed.wrapped_key,
            nonce=sealed.nonce,
            ciphertext=sealed.ciphertext,
        )
    )
    with pytest.raises(SecretUnreadable):
        EnvelopeVault(store, key).reveal("b")


def test_a_reference_is_never_overwritten(store: SecretStore) -> None:
    vault = EnvelopeVault(store, kek())
    vault.seal("a", SECRET)
    sealed = store.get("a")
    assert sealed is not None
    store.put(sealed)  # the same secret again: no change
    with pytest.raises(SecretConflict):
        vault.seal("a", "another secret")
    assert vault.reveal("a") == SECRET


def test_an_unknown_reference_is_not_found(store: SecretStore) -> None:
    assert store.get("nope") is None
    with pytest.raises(SecretNotFound):
        EnvelopeVault(store, kek()).reveal("nope")


@pytest.mark.parametrize("text", ["", "short", "!!not base64!!"])
def test_a_kek_setting_must_be_32_bytes_of_base64(text: str) -> None:
    with pytest.raises(ValueError, match="key-encryption key"):
        parse_kek(text)
