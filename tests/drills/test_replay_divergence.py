"""Drill: a stored event is changed behind Helios's back; verify finds it; a backup restores it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from harness import Helios, Runbook


def _swap_two_alerts_triggers(store: Path) -> None:
    """Exchange the recorded 'triggered' decisions of two alerts: each still decodes, neither
    is what its inputs decided."""
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = 'helios.alert.triggered.v1'"
            " ORDER BY rowid LIMIT 2"
        ).fetchall()
        assert len(rows) == 2
        (first, first_state), (second, second_state) = rows
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (second_state, first))
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (first_state, second))


def test_a_changed_log_is_found_by_verify_and_restored_from_the_backup(helios: Helios) -> None:
    runbook = Runbook("replay-divergence")
    issued = helios.provision()
    helios.start("api")
    helios.start("worker")
    assert helios.post_alerts(issued["routing_key"], ["DiskFull", "CpuHot"]) == [202, 202]
    helios.wait_until_decided("the worker to decide both alerts")
    helios.stop_all()
    env = {**helios.env, "BACKUP_DIR": str(helios.root / "backup")}
    runbook.run("backup", env)
    runbook.run("verify", env)  # the log verifies before anything happens to it

    _swap_two_alerts_triggers(helios.root / "data" / "helios.db")
    diagnosis = runbook.run("diagnose", env, cwd=helios.root)
    assert "divergences found" in diagnosis.stdout
    report = json.loads((helios.root / "verify.json").read_text())
    assert report["divergence_count"] >= 2
    assert {d["kind"] for d in report["divergences"]} <= {"changed", "unexpected", "missing"}

    assert runbook.run("verify", env, check=False).returncode == 1
    runbook.run("recover", env)
    runbook.run("verify", env)
