"""Drill: no worker runs while alerts arrive; the runbook's worker drains the backlog."""

from __future__ import annotations

from harness import Helios, Runbook


def test_a_backlog_without_workers_is_seen_and_drained_by_the_runbooks_worker(
    helios: Helios,
) -> None:
    runbook = Runbook("queue-backlog")
    issued = helios.provision()
    helios.start("api")
    names = [f"Backlog{i}" for i in range(20)]
    assert helios.post_alerts(issued["routing_key"], names) == [202] * 20

    diagnosis = runbook.run("diagnose", helios.env)
    assert 'helios_queue_depth{queue="ingest"} 20' in diagnosis.stdout
    assert "helios_queue_oldest_message_age_seconds" in diagnosis.stdout

    worker = runbook.start("recover", helios.env, log=helios.root / "runbook-worker.log")
    try:
        helios.wait_until(
            lambda: runbook.run("verify", helios.env, check=False).returncode == 0,
            what="the runbook's worker to drain the queue",
        )
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0  # SIGTERM: the worker finishes its batch and exits
    report = helios.cli("replay", "verify", "--json")
    assert report["divergence_count"] == 0
    assert report["decisions"] >= 20
