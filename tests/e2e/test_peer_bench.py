"""``bench/peer.py`` (``helios up`` next to Alertmanager 0.25) runs end to end at small sizes.

A smoke run (``--quick``), so the benchmark cannot rot unnoticed: both servers start, accept
alerts in their own format, list them, and every measure gets a number. The load comes from
``wrk`` when it is installed, otherwise from the script's httpx clients (``--no-wrk``), which
exercises every part but the Lua scripts. Without ``prometheus-alertmanager`` the test skips
locally and fails in CI (which installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services import REQUIRE_SERVICES_VAR, services_required

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "peer.py"
LOADS = ("distinct, 1 per request", "distinct, 10 per request", "repeated, 1 per request")


@pytest.fixture
def alertmanager_installed() -> None:
    if shutil.which("prometheus-alertmanager"):
        return
    reason = "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
    if services_required():
        pytest.fail(f"{reason} and {REQUIRE_SERVICES_VAR}=1")
    pytest.skip(reason)


def run_quick(*extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_the_peer_benchmark_gives_every_measure_a_ratio_at_small_sizes(
    alertmanager_installed: None,
) -> None:
    """Exit 0; one ``ratio …: x`` line per measure, a number wherever Alertmanager's side is
    not zero by design (its idle CPU over a short window, its disk: it keeps alerts in memory)."""
    result = run_quick() if shutil.which("wrk") else run_quick("--no-wrk")
    assert result.returncode == 0, result.stderr[-4000:]
    ratios = dict(re.findall(r"^ratio (.+): (\S+)$", result.stdout, re.MULTILINE))
    expected = [
        f"{what}, {load}"
        for load in LOADS
        for what in ("accepted requests/s", "accepted alerts/s", "p50 latency", "p99 latency")
    ] + [
        "seconds until 200 distinct alerts visible",
        "memory idle (PSS)",
        "memory at 200 alerts (PSS)",
        "memory at 600 alerts (PSS)",
    ]
    for measure in expected:
        assert measure in ratios, (measure, result.stdout)
        assert float(ratios[measure]) > 0, (measure, result.stdout)
    assert "idle CPU at 600 alerts" in ratios
    assert "disk used per alert" in ratios
    helios_disk = re.search(r"^disk used per alert\s+bytes\s+([\d,]+)", result.stdout, re.M)
    assert helios_disk and int(helios_disk.group(1).replace(",", "")) > 0, result.stdout
    for phase in ("load", "state"):
        assert re.search(rf"{phase} round 1: start [\d. ]+ end [\d. ]+$", result.stdout, re.M)
    assert "What differs in the work" in result.stdout
    # One progress line per step, on stderr only.
    assert "Helios: idle CPU" in result.stderr and "[peer" not in result.stdout


def test_the_burst_benchmark_times_a_burst_stored_then_listed() -> None:
    """``bench/burst.py`` at a small size, split over two instances: exit 0, and each round
    says when the alerts were stored in the read models and when the API listed them, the
    first no later than the second (the API lists what the read models hold), then the
    memory of both instances once loaded on (``--memory-at``), their sum first."""
    script = REPO / "bench" / "burst.py"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    extra = [] if shutil.which("wrk") else ["--no-wrk"]
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            *("--alerts", "200", "--rounds", "1", "--split", "--memory-at", "400", *extra),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = re.search(
        r"^round 1: sent ([\d.]+) s, stored ([\d.]+) s, listed ([\d.]+) s \(its count (\d+) ms\);"
        r" CPU s: (.*); load average",
        result.stdout,
        re.MULTILINE,
    )
    assert found, result.stdout
    sent, stored, listed = (float(found.group(i)) for i in (1, 2, 3))
    assert sent > 0 and 0 < stored <= listed, result.stdout
    assert found.group(5).count("worker") == 2, result.stdout  # one worker per instance
    assert re.search(r"^listed: median [\d.]+ s of 1 rounds$", result.stdout, re.MULTILINE)
    memory = re.search(
        r"^  memory at 400 alerts: (\d+) MiB PSS \((\d+) \+ (\d+)\)$", result.stdout, re.MULTILINE
    )
    assert memory, result.stdout
    total, first, second = (int(memory.group(i)) for i in (1, 2, 3))
    assert first > 20 and second > 20 and abs(total - first - second) <= 1, result.stdout
