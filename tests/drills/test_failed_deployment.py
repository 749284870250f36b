"""Drill: deploy onto PostgreSQL with the runbook's migration, break the release, roll back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import Helios, Runbook

from services import PrivatePostgres


def test_the_runbooks_migration_and_rollback_commands_work_on_postgresql(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    runbook = Runbook("failed-deployment")
    helios = Helios.create(tmp_path, HELIOS_STORE_URL=private_postgres.url)
    try:
        deployed = runbook.run("deploy", helios.env)
        assert deployed.stdout.count("event store ready") == 2
        issued = helios.provision()
        helios.start("api")
        helios.start("worker")
        assert helios.post_alerts(issued["routing_key"], ["Release1", "Release2"]) == [202, 202]
        helios.wait_until_decided("the release's worker to decide the alerts")
        helios.stop("worker")

        # The next release's workers crash at start (here: a setting it cannot read).
        broken = {**helios.env, "HELIOS_WORKER_BATCH": "many"}
        crashed = subprocess.run(
            ["helios", "worker", "ingest"],
            env=broken,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert crashed.returncode == 78
        assert helios.post_alerts(issued["routing_key"], ["DuringBadRelease"]) == [202]
        diagnosis = runbook.run("diagnose", helios.env)
        assert '"divergence_count": 0' in diagnosis.stdout
        assert "behind by" in diagnosis.stdout

        rollback = runbook.run("rollback", helios.env, timeout_s=300)
        assert "event store ready" in rollback.stdout
        helios.start("worker")  # the previous release's workers and followers, back
        helios.start("followers")
        helios.wait_until(
            lambda: runbook.run("verify", helios.env, check=False).returncode == 0,
            what="the rolled-back release to decide and project what waited",
        )
    finally:
        helios.stop_all()
