"""``helios integrations list`` shows when each integration last sent something and how many
of its deliveries were accepted and rejected, as the projector counted them from the log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helios.apps.application.ingest import Ingestor
from helios.apps.cli import main
from helios.apps.composition import open_read_models, open_store
from helios.apps.settings import Settings
from helios.apps.views.projector import Projector
from helios.domain.values import Envelope, SourceKind

T0 = 1_773_480_000_000
FIRING = (Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples").joinpath(
    "alertmanager_v4_firing.json"
)


@pytest.fixture
def helios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)
    monkeypatch.delenv("HELIOS_READ_MODELS_URL", raising=False)

    def run(*argv: str) -> tuple[int, Any]:
        code = main(list(argv))
        return code, json.loads(capsys.readouterr().out)

    return run


def envelope(tenant: str, integration: str, n: int, body: bytes) -> Envelope:
    return Envelope(
        ingest_id=f"in-{n}",
        tenant=tenant,
        integration=integration,
        source=SourceKind.ALERTMANAGER,
        received_at=T0 + n,
        body=body,
    )


@pytest.mark.parametrize("page_size", [1, 1000], ids=["page per event", "one page"])
def test_an_integrations_deliveries_are_counted_as_accepted_or_rejected(
    helios, page_size: int
) -> None:
    _, tenant = helios("tenants", "create", "acme")
    tenant_id = tenant["tenant_id"]
    _, used = helios("integrations", "create", "--tenant", tenant_id, "--kind", "alertmanager")
    _, idle = helios("integrations", "create", "--tenant", tenant_id, "--kind", "grafana")
    settings = Settings.from_env()
    store = open_store(settings)
    db = open_read_models(settings.effective_read_models_url)
    try:
        good, bad = FIRING.read_bytes(), b'{"alerts": "not a list"}'
        Ingestor(store).ingest(
            [
                envelope(tenant_id, used["integration_id"], n, b)
                for n, b in enumerate([good, bad, good])
            ]
        )
        projector, after = Projector(store, db), 0
        while page := store.read_log(after, page_size):
            projector.apply(page, after=after)
            after = page[-1].position
    finally:
        db.close()
        store.close()
    code, listed = helios("integrations", "list", "--tenant", tenant_id)
    assert code == 0
    by_id = {i["integration_id"]: i for i in listed}
    assert (
        by_id[used["integration_id"]]["accepted"],
        by_id[used["integration_id"]]["rejected"],
    ) == (2, 1)
    assert by_id[used["integration_id"]]["last_seen_at_ms"] == T0 + 2
    assert by_id[idle["integration_id"]]["last_seen_at_ms"] is None
    assert by_id[idle["integration_id"]]["accepted"] == 0


def test_listing_an_unknown_tenant_is_refused_naming_it(helios) -> None:
    code, refused = helios("integrations", "list", "--tenant", "ten_nope")
    assert code == 1 and refused["problems"] == [{"field": "tenant", "message": "unknown"}]
