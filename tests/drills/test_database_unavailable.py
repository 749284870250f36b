"""Drill: PostgreSQL crashes under a running Helios; ingestion goes on; nothing is lost."""

from __future__ import annotations

from pathlib import Path

from harness import Helios, Runbook

from services import PrivatePostgres


def test_a_database_crash_holds_decisions_while_ingestion_goes_on_and_loses_nothing(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    runbook = Runbook("database-unavailable")
    helios = Helios.create(tmp_path, HELIOS_STORE_URL=private_postgres.url)
    try:
        helios.cli("db", "migrate")
        issued = helios.provision()
        helios.start("api")
        helios.start("worker")
        assert helios.post_alerts(issued["routing_key"], ["Before1", "Before2"]) == [202, 202]
        helios.wait_until_decided("the worker to decide the first alerts")

        private_postgres.crash()
        during = [f"During{i}" for i in range(5)]
        assert helios.post_alerts(issued["routing_key"], during) == [202] * 5  # still accepted
        diagnosis = runbook.run("diagnose", helios.env)
        assert "not ready" in diagnosis.stdout
        assert "the database does not answer" in diagnosis.stdout

        private_postgres.start()
        runbook.run("recover", helios.env)
        helios.wait_until(
            lambda: runbook.run("verify", helios.env, check=False).returncode == 0,
            what="readiness, an empty queue and a clean verify after the database came back",
        )
        report = helios.cli("replay", "verify", "--json")
        assert report["divergence_count"] == 0
        assert report["decisions"] >= 7  # every alert accepted before and during the outage
    finally:
        helios.stop_all()
