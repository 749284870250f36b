"""Drill: Redis dies; deliveries without an Idempotency-Key go on, keyed ones wait; then back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
from harness import Helios, PrivateServer, Runbook, alertmanager_webhook, free_port


def test_a_redis_outage_keeps_plain_deliveries_flowing_and_recovers_without_a_restart(
    tmp_path: Path,
) -> None:
    runbook = Runbook("redis-down")
    server = shutil.which("redis-server")
    assert server, "redis-server is missing (.ci/run installs it)"
    port = free_port()
    redis = PrivateServer(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        port=port,
        log=tmp_path / "redis.log",
    )
    redis.start()
    helios = Helios.create(tmp_path, HELIOS_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    try:
        issued = helios.provision()
        helios.start("api")
        (tmp_path / "alert.json").write_text(json.dumps(alertmanager_webhook("AfterOutage")))
        url = f"{helios.url}/v1/ingest/alertmanager/{issued['routing_key']}"
        env = {**helios.env, "ROUTING_KEY": issued["routing_key"]}

        redis.kill()
        assert helios.post_alerts(issued["routing_key"], ["PlainDuringOutage"]) == [202]
        keyed = httpx.post(
            url,
            json=alertmanager_webhook("KeyedDuringOutage"),
            headers={"Idempotency-Key": "during-the-outage"},
            timeout=30,
        )
        assert keyed.status_code == 503
        diagnosis = runbook.run("diagnose", env)
        assert "not ready" in diagnosis.stdout
        assert "Redis does not answer" in diagnosis.stdout

        redis.start()
        runbook.run("recover", env)
        helios.wait_until(
            lambda: runbook.run("verify", env, cwd=tmp_path, check=False).returncode == 0,
            what="readiness and keyed deliveries to come back",
        )
    finally:
        helios.stop_all()
        redis.kill()
