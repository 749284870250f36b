"""Drill: the SQS server dies and comes back empty; the runbook recreates the queues."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx
from harness import Helios, PrivateServer, Runbook, alertmanager_webhook, free_port


def test_an_sqs_outage_answers_503_and_the_runbook_brings_ingestion_back(tmp_path: Path) -> None:
    runbook = Runbook("sqs-down")
    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = free_port()
    sqs = PrivateServer(
        [moto, "-H", "127.0.0.1", "-p", str(port)], port=port, log=tmp_path / "moto.log"
    )
    sqs.start()
    helios = Helios.create(
        tmp_path,
        HELIOS_QUEUE="sqs",
        HELIOS_SQS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        helios.cli("queues", "create")
        issued = helios.provision()
        helios.start("api")
        assert helios.post_alerts(issued["routing_key"], ["BeforeOutage"]) == [202]
        (tmp_path / "alert.json").write_text(json.dumps(alertmanager_webhook("AfterOutage")))

        sqs.kill()
        url = f"{helios.url}/v1/ingest/alertmanager/{issued['routing_key']}"
        refused = httpx.post(url, json=alertmanager_webhook("DuringOutage"), timeout=30)
        assert refused.status_code == 503
        assert "retry-after" in refused.headers
        env = {**helios.env, "ROUTING_KEY": issued["routing_key"]}
        diagnosis = runbook.run("diagnose", env)
        assert "not ready" in diagnosis.stdout

        sqs.start()  # back, but empty: its queues are gone, as after a deleted queue
        runbook.run("recover", env)
        helios.wait_until(
            lambda: runbook.run("verify", env, cwd=tmp_path, check=False).returncode == 0,
            what="ingestion to be accepted again",
        )
    finally:
        helios.stop_all()
        sqs.kill()
