"""Drill: the analytics worker stops and its store is lost; the core goes on; the runbook
rebuilds the store and analytics catches up."""

from __future__ import annotations

from harness import Helios, Runbook


def test_analytics_stopping_and_losing_its_store_touches_nothing_else_and_is_rebuilt(
    helios: Helios,
) -> None:
    runbook = Runbook("analytics-down")
    helios.env["HELIOS_ANALYTICS_PUBLISH_S"] = "1"
    issued = helios.provision()
    for kind in ("api", "worker", "followers", "analytics"):
        helios.start(kind)
    assert helios.post_alerts(issued["routing_key"], ["Before1", "Before2"]) == [202, 202]
    helios.wait_until(
        lambda: helios.metric("helios_analytics_lag_events") == 0,
        what="analytics to load and publish the first alerts",
    )

    helios.stop("analytics")
    (helios.root / "data" / "analytics.duckdb").unlink()  # the store is lost with it
    names = [f"WhileDown{i}" for i in range(4)]
    assert helios.post_alerts(issued["routing_key"], names) == [202] * 4
    helios.wait_until_decided("the core to decide without analytics")
    diagnosis = runbook.run("diagnose", helios.env)
    assert "no analytics store" in diagnosis.stdout
    lag = helios.metric("helios_analytics_lag_events")
    assert lag is not None and lag > 0

    runbook.run("rebuild", helios.env, timeout_s=300)
    worker = runbook.start("recover", helios.env, log=helios.root / "runbook-analytics.log")
    try:
        helios.wait_until(
            lambda: runbook.run("verify", helios.env, check=False).returncode == 0,
            what="analytics to catch up with the log",
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
