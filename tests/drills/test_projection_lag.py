"""Drill: the projector stops while decisions go on; the runbook's commands bring it back."""

from __future__ import annotations

from harness import Helios, Runbook


def test_a_stopped_projector_is_seen_lagging_and_the_runbook_rebuilds_it(helios: Helios) -> None:
    runbook = Runbook("projection-lag")
    issued = helios.provision()
    helios.start("api")
    helios.start("worker")  # decisions go on; no followers run: the projector is "down"
    assert helios.post_alerts(issued["routing_key"], [f"Drill{i}" for i in range(5)]) == [202] * 5
    helios.wait_until_decided("the worker to decide every alert")

    diagnosis = runbook.run("diagnose", helios.env)
    head = helios.metric("helios_event_log_head_position")
    assert head and head > 0
    assert f"behind by {int(head)}" in diagnosis.stdout  # the projector never ran

    runbook.run("recover", helios.env)
    runbook.run("verify", helios.env)
    # The rebuilt read model has every alert the worker decided.
    status = helios.cli("projections", "status")
    assert "projector" in status
