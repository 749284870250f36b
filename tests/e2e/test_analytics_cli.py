"""``helios analytics seed``, ``rebuild`` and ``report`` over files in a data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.cli import main


def test_seeded_history_rebuilds_into_analytics_and_reports_as_one_html_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("HELIOS_DATA_DIR", str(data))
    monkeypatch.setenv("HELIOS_WORKER_WAIT_S", "0.2")
    for name in ("HELIOS_STORE_URL", "HELIOS_QUEUE", "HELIOS_REDIS_URL", "HELIOS_READ_MODELS_URL"):
        monkeypatch.delenv(name, raising=False)

    assert main(["analytics", "seed", "--days", "9"]) == 0
    assert "for tenant" in capsys.readouterr().err
    tenant = json.loads((data / "integration.json").read_text())["tenant"]
    assert main(["analytics", "rebuild", "--quiet"]) == 0
    assert "facts into" in capsys.readouterr().err
    store = DuckDbAnalytics(data / "analytics.duckdb")
    tenants = store.query("SELECT DISTINCT tenant FROM facts")
    signals = store.query("SELECT count(*) FROM facts WHERE kind = 'signal'")[0][0]
    store.close()
    assert tenants == [(tenant,)]
    assert signals > 20

    out = tmp_path / "report.html"
    assert main(["analytics", "report", "--tenant", tenant, "--out", str(out)]) == 0
    html = out.read_text()
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") == 2
    assert "DiskAlmostFull" in html
    assert main(["analytics", "seed", "--days", "0"]) == 2
