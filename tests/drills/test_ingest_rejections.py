"""Drill: a sender's broken bodies are rejected, diagnosed field by field, then accepted."""

from __future__ import annotations

import json

import httpx
from harness import Helios, Runbook, alertmanager_webhook


def test_rejected_deliveries_are_counted_explained_by_field_and_accepted_once_fixed(
    helios: Helios,
) -> None:
    runbook = Runbook("ingest-rejections")
    issued = helios.provision()
    helios.start("api")
    broken = alertmanager_webhook("Broken")
    broken["alerts"][0]["startsAt"] = "yesterday"
    (helios.root / "rejected.json").write_text(json.dumps(broken))
    (helios.root / "fixed.json").write_text(json.dumps(alertmanager_webhook("Fixed")))
    url = f"{helios.url}/v1/ingest/alertmanager/{issued['routing_key']}"
    for _ in range(3):
        assert httpx.post(url, json=broken, timeout=10).status_code == 400

    env = {**helios.env, "ROUTING_KEY": issued["routing_key"]}
    counted = runbook.run("diagnose", env)
    assert 'helios_envelopes_total{source="alertmanager",outcome="rejected"} 3' in counted.stdout

    problem = json.loads(runbook.run("reproduce", env, cwd=helios.root).stdout)
    assert problem["status"] == 400
    assert any("startsAt" in json.dumps(error) for error in problem["errors"])

    runbook.run("verify", env, cwd=helios.root)
