"""Integration secrets outside the log: ``helios integrations`` over a SQLite store seals new
signing secrets in the secret store (the log holds a reference and a fingerprint), a secret an
earlier version wrote into the log still verifies until a forced rotation retires it, and the
old events keep their bytes."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from helios.apps.application.tenancy import SigningSecrets, TenancyService, hash_key
from helios.apps.cli import main
from helios.apps.composition import open_secret_vault, open_store
from helios.apps.settings import Settings
from helios.domain import key_index, tenancy
from helios.domain.values import SourceKind
from helios.ports.event_store import AppendBatch, StreamAppend

LEGACY_SECRET = "whsec_recorded-in-plain-text-by-an-old-version"


@pytest.fixture
def helios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run a ``helios`` command line in-process; returns (exit code, its JSON output)."""
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)
    monkeypatch.delenv("HELIOS_SECRETS_KEK", raising=False)

    def run(*argv: str) -> tuple[int, Any]:
        code = main(list(argv))
        return code, json.loads(capsys.readouterr().out)

    return run


def log_bytes() -> list[bytes]:
    store = open_store(Settings.from_env())
    try:
        return [bytes(e.encoded or b"") for e in store.read_log(0, 10_000, encoded=lambda _: True)]
    finally:
        store.close()


def plaintexts(tenant_id: str, integration_id: str, at: int) -> tuple[str, ...]:
    settings = Settings.from_env()
    store = open_store(settings)
    try:
        integration = TenancyService(store).tenant(tenant_id).integration(integration_id)
        assert integration is not None
        signing = SigningSecrets(open_secret_vault(settings))
        return asyncio.run(signing.plaintexts(integration, at))
    finally:
        store.close()


def record_legacy_integration(tenant_id: str) -> str:
    """An integration as versions before the secret store recorded it: the secret in the log."""
    store = open_store(Settings.from_env())
    key = "legacy-routing-key"
    created = tenancy.IntegrationCreated(
        tenant_id=tenant_id,
        integration_id="int_legacy",
        kind=SourceKind.GENERIC,
        name="legacy",
        key_hash=hash_key(key),
        at=1,
        signing_secret=LEGACY_SECRET,
    )
    registered = key_index.RoutingKeyRegistered(
        key_hash=hash_key(key), tenant_id=tenant_id, integration_id="int_legacy", at=1
    )
    try:
        tenant_version = len(store.read_stream(tenancy.tenant_stream_id(tenant_id)))
        index_version = len(store.read_stream(key_index.STREAM))
        store.append(
            AppendBatch(
                streams=(
                    StreamAppend(
                        stream_id=tenancy.tenant_stream_id(tenant_id),
                        expected_version=tenant_version,
                        events=(created,),
                    ),
                    StreamAppend(
                        stream_id=key_index.STREAM,
                        expected_version=index_version,
                        events=(registered,),
                    ),
                )
            )
        )
    finally:
        store.close()
    return "int_legacy"


def test_a_new_signing_secret_is_sealed_and_only_its_reference_is_logged(helios) -> None:
    _, tenant = helios("tenants", "create", "acme")
    code, made = helios(
        "integrations", "create", "--tenant", tenant["tenant_id"], "--kind", "generic"
    )
    assert code == 0 and made["signing_secret"].startswith("whsec_")
    assert made["legacy_secret"] is False
    assert made["signing_secret_fingerprint"].startswith("sha256:")
    assert not any(made["signing_secret"].encode() in b for b in log_bytes())
    assert plaintexts(tenant["tenant_id"], made["integration_id"], 10**13) == (
        made["signing_secret"],
    )


def test_a_forced_rotation_retires_a_secret_left_in_the_log_by_an_earlier_version(
    helios, capsys: pytest.CaptureFixture[str]
) -> None:
    _, tenant = helios("tenants", "create", "acme")
    tenant_id = tenant["tenant_id"]
    helios("integrations", "create", "--tenant", tenant_id, "--kind", "alertmanager")
    legacy = record_legacy_integration(tenant_id)
    _, listed = helios("integrations", "list", "--tenant", tenant_id)
    assert [i["legacy_secret"] for i in listed] == [False, True]
    assert plaintexts(tenant_id, legacy, 10**13) == (LEGACY_SECRET,)
    before = log_bytes()

    code, rotated = helios("integrations", "rotate", "--all", "--force")
    assert code == 0 and len(rotated) == 2
    [generic] = [r for r in rotated if r["integration_id"] == legacy]
    assert generic["legacy_secret"] is False and generic["signing_secret"].startswith("whsec_")
    assert plaintexts(tenant_id, legacy, 10**13) == (generic["signing_secret"],)
    after = log_bytes()
    assert after[: len(before)] == before  # the old events are untouched
    assert not any(generic["signing_secret"].encode() in b for b in after)


def test_a_revoked_integration_is_listed_as_revoked_and_left_out_of_rotations(helios) -> None:
    _, tenant = helios("tenants", "create", "acme")
    _, made = helios("integrations", "create", "--tenant", tenant["tenant_id"], "--kind", "grafana")
    code, revoked = helios("integrations", "revoke", "--integration", made["integration_id"])
    assert code == 0 and revoked["revoked_at_ms"]
    code, rotated = helios("integrations", "rotate", "--all")
    assert code == 0 and rotated == []


def test_an_operator_sets_a_secret_the_sender_already_has(
    helios, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, tenant = helios("tenants", "create", "acme")
    _, made = helios("integrations", "create", "--tenant", tenant["tenant_id"], "--kind", "generic")
    chosen = "whsec_chosen-by-the-sender-0123"
    monkeypatch.setattr("sys.stdin", io.StringIO(chosen + "\n"))
    code, rotated = helios(
        "integrations",
        "rotate",
        "--integration",
        made["integration_id"],
        "--signing-secret",
        "--secret-stdin",
        "--grace-s",
        "0",
    )
    assert code == 0 and rotated["signing_secret"] == chosen
    assert plaintexts(tenant["tenant_id"], made["integration_id"], 10**13) == (chosen,)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, refused = helios(
        "integrations",
        "rotate",
        "--integration",
        made["integration_id"],
        "--signing-secret",
        "--secret-stdin",
    )
    assert code == 1 and refused["problems"][0]["field"] == "signing_secret"
