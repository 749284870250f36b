"""The key-encryption key of a shared secret store: every process of a deployment over
PostgreSQL must be given the same HELIOS_SECRETS_KEK; a process that would otherwise make a key
of its own (in a data directory no other task sees) refuses to start instead. A local store
(the embedded default) still makes its key file on first use, and a key file an existing setup
already has keeps working."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from helios.adapters.secrets.envelope import new_kek_text
from helios.apps.cli import CONFIG_ERROR, main
from helios.apps.composition import key_file, open_secret_vault
from helios.apps.settings import InvalidSetting, Settings
from helios.ports.secrets import SecretVault

KEK_FILE = "secrets-kek.json"


@pytest.fixture
def shared_store(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL store URL of its own schema (the secrets go to ``<schema>_secrets``)."""
    schema = f"kek_{uuid.uuid4().hex[:10]}"
    yield f"{postgres_url}?schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_secrets" CASCADE')


def sealed_then_revealed(first: SecretVault, second: SecretVault) -> str:
    first.seal("whsec", "signing-secret")
    return second.reveal("whsec")


def test_a_shared_store_without_a_kek_is_refused_naming_the_variable(tmp_path: Path) -> None:
    # Refused before connecting: no server listens on this port.
    settings = Settings(data_dir=tmp_path, store_url="postgresql://127.0.0.1:1/helios")

    with pytest.raises(InvalidSetting, match="HELIOS_SECRETS_KEK"):
        open_secret_vault(settings)
    assert not (tmp_path / KEK_FILE).exists()


def test_the_command_line_stops_with_exit_78_and_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The store is local here, but the secrets are shared: that is what needs one key.
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)
    monkeypatch.delenv("HELIOS_SECRETS_KEK", raising=False)
    monkeypatch.setenv("HELIOS_SECRETS_URL", "postgresql://127.0.0.1:1/helios?schema=s")

    code = main(["integrations", "create", "--tenant", "acme", "--kind", "generic"])

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == CONFIG_ERROR
    assert len(lines) == 1
    assert lines[0].startswith("helios: invalid setting: HELIOS_SECRETS_KEK is not set")


def test_every_process_given_the_same_kek_reveals_what_another_sealed(
    tmp_path: Path, shared_store: str
) -> None:
    kek = new_kek_text()

    def process(name: str) -> SecretVault:
        return open_secret_vault(
            Settings(data_dir=tmp_path / name, store_url=shared_store, secrets_kek=kek)
        )

    assert sealed_then_revealed(process("admin"), process("api")) == "signing-secret"
    assert not (tmp_path / "admin" / KEK_FILE).exists()


def test_a_key_file_an_existing_setup_already_has_keeps_working(
    tmp_path: Path, shared_store: str
) -> None:
    settings = Settings(data_dir=tmp_path, store_url=shared_store)
    key_file(settings, KEK_FILE).write({"kek": new_kek_text()})

    assert (
        sealed_then_revealed(open_secret_vault(settings), open_secret_vault(settings))
        == "signing-secret"
    )


def test_a_local_store_still_makes_its_key_file_on_first_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)

    assert (
        sealed_then_revealed(open_secret_vault(settings), open_secret_vault(settings))
        == "signing-secret"
    )
    assert (tmp_path / KEK_FILE).stat().st_mode & 0o777 == 0o600
    warning = json.loads(capsys.readouterr().err.strip().splitlines()[0])
    assert warning["level"] == "warning"


@pytest.mark.parametrize("text", ["not base64 at all!", "c2hvcnQ="])
def test_a_malformed_kek_is_an_invalid_setting_naming_the_variable(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(InvalidSetting, match="HELIOS_SECRETS_KEK"):
        open_secret_vault(Settings(data_dir=tmp_path, secrets_kek=text))
