"""Feature flags end to end: ``helios flags`` turns incident grouping off for a tenant's
alerts (all, or a stable share), the real Ingestor decides with it and records the flag
version, and replay verifies those decisions byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helios import replay
from helios.apps.application.ingest import Ingestor
from helios.apps.cli import main
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain import flags, incident
from helios.domain.intake import EnvelopeNormalized, TickReceived
from helios.domain.values import Envelope, SourceKind

T0 = 1_773_480_000_000
TENANT = "acme"


@pytest.fixture
def helios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run a ``helios`` command line in-process; returns (exit code, its output)."""
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        return code, capsys.readouterr().out

    return run


def trigger(key: str, at: int, n: int) -> Envelope:
    body = {
        "routing_key": "r",
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": f"{key} is slow", "source": "web-1", "severity": "error"},
    }
    return Envelope(
        ingest_id=f"in-{n}",
        tenant=TENANT,
        integration="pd-1",
        source=SourceKind.PAGERDUTY,
        received_at=at,
        body=json.dumps(body).encode(),
    )


def ingest(keys: list[str], start: int) -> None:
    store = open_store(Settings.from_env())
    try:
        Ingestor(store).ingest([trigger(k, T0 + start + i, start + i) for i, k in enumerate(keys)])
    finally:
        store.close()


def log() -> list[Any]:
    store = open_store(Settings.from_env())
    try:
        return [e.event for e in store.read_log(0, 100_000)]
    finally:
        store.close()


def joined(events: list[Any]) -> set[str]:
    return {e.dedup_key for e in events if isinstance(e, incident.IncidentAlertJoined)}


def test_no_incident_grouping_keeps_alerts_out_of_incidents_and_replays(helios) -> None:
    ingest(["before"], 0)
    assert joined(log()) == {"before"}
    code, out = helios("flags", "set", "no_incident_grouping", "on", "--tenant", TENANT)
    assert code == 0 and json.loads(out)["enabled"] is True
    ingest(["during"], 10)
    assert "during" not in joined(log())

    keys = [f"svc-{i}" for i in range(40)]
    code, _ = helios("flags", "rollout", "no_incident_grouping", "50", "--tenant", TENANT)
    assert code == 0
    ingest(keys, 100)
    in_effect = {k for k in keys if flags.bucket(flags.NO_INCIDENT_GROUPING, k) < 50}
    assert joined(log()) & set(keys) == set(keys) - in_effect
    assert 0 < len(in_effect) < len(keys)

    recorded = [e.flags_version for e in log() if isinstance(e, EnvelopeNormalized)]
    assert recorded[0] == 0 and recorded[-1] == 3  # defined, switched on, rolled out
    store = open_store(Settings.from_env())
    try:  # time passes for every alert: ticks decide under the flags too, and record them
        Ingestor(store).tick(TENANT, ["before", "during", *keys], T0 + 3_600_000)
    finally:
        store.close()
    ticks = [e for e in log() if isinstance(e, TickReceived)]
    assert [t.flags_version for t in ticks] == [3]
    store = open_store(Settings.from_env())
    try:
        report = replay.verify(store)
    finally:
        store.close()
    assert report.ok, report.divergences[:1]


def test_flags_list_and_history_show_who_changed_what(helios) -> None:
    code, out = helios("flags", "list", "--tenant", TENANT)
    assert code == 0 and "no flags" in out
    helios("flags", "define", "beta_ui", "--tenant", TENANT, "--description", "the new pages")
    helios("flags", "set", "beta_ui", "on", "--tenant", TENANT)
    code, out = helios("flags", "list", "--tenant", TENANT)
    assert code == 0 and "beta_ui" in out and " on " in out and "the new pages" in out
    code, out = helios("flags", "history", "beta_ui", "--tenant", TENANT)
    assert [(c["change"], c["by"]) for c in json.loads(out)] == [("defined", "cli"), ("on", "cli")]
    code, out = helios("flags", "rollout", "beta_ui", "120", "--tenant", TENANT)
    assert code == 1 and json.loads(out)["problems"][0]["field"] == "percent"
