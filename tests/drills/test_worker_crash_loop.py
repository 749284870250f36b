"""Drill: a worker that cannot start (a bad setting) is diagnosed and recovered from its page."""

from __future__ import annotations

from harness import Helios, Runbook


def test_a_worker_stopped_by_a_bad_setting_is_diagnosed_fixed_and_drains_the_queue(
    helios: Helios,
) -> None:
    runbook = Runbook("worker-crash-loop")
    issued = helios.provision()
    helios.start("api")
    assert helios.post_alerts(issued["routing_key"], ["Loop1", "Loop2"]) == [202, 202]

    broken = {**helios.env, "HELIOS_WORKER_BATCH": "ten"}  # the deployment's mistake
    diagnosis = runbook.run("diagnose", broken)
    assert "helios: invalid setting: HELIOS_WORKER_BATCH must be an integer, not 'ten'" in (
        diagnosis.stdout
    )
    assert "HELIOS_WORKER_BATCH=ten" in diagnosis.stdout
    assert "Traceback" not in diagnosis.stdout

    worker = runbook.start("recover", helios.env, log=helios.root / "runbook-worker.log")
    try:
        helios.wait_until(
            lambda: runbook.run("verify", helios.env, check=False).returncode == 0,
            what="the fixed worker to drain the queue",
        )
        assert worker.poll() is None  # it stays up
    finally:
        worker.terminate()
        worker.wait(timeout=30)
