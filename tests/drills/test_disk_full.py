"""Drill: the embedded default's data disk fills up; freeing it brings ingestion back, no restart.

The data directory sits on a small tmpfs the drill mounts (CI runs as root), filled by a file.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import Helios, Runbook, alertmanager_webhook

DISK_BYTES = 48 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"cannot mount a tmpfs (the drill needs root): {done.stderr}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_data_disk_refuses_new_events_and_recovers_without_a_restart(
    tmp_path: Path, small_disk: Path
) -> None:
    runbook = Runbook("disk-full")
    helios = Helios.create(tmp_path, HELIOS_DATA_DIR=str(small_disk / "data"))
    try:
        issued = helios.provision()
        helios.start("api")
        assert helios.post_alerts(issued["routing_key"], ["BeforeFull"]) == [202]
        (tmp_path / "alert.json").write_text(json.dumps(alertmanager_webhook("AfterFull")))

        filler = _fill(small_disk)
        url = f"{helios.url}/v1/ingest/alertmanager/{issued['routing_key']}"
        refused = httpx.post(url, json=alertmanager_webhook("WhileFull"), timeout=10)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"

        env = {**helios.env, "ROUTING_KEY": issued["routing_key"]}
        diagnosis = runbook.run("diagnose", env)
        assert "not ready" in diagnosis.stdout
        assert "queue.db" in diagnosis.stdout

        os.unlink(filler)  # the operator makes room (what to delete is theirs to say)
        runbook.run("verify", env, cwd=tmp_path)  # the same API process, not restarted

        helios.start("worker")
        helios.wait_until_decided("the worker to decide what was accepted before and after")
        report = helios.cli("replay", "verify", "--json")
        assert report["divergence_count"] == 0
        assert report["decisions"] >= 2
    finally:
        helios.stop_all()
