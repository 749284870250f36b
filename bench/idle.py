"""Idle CPU of ``helios up`` holding many open alerts.

Starts ``helios up`` on a fresh data directory (a temporary one) and a free port, posts
``--alerts`` distinct firing alerts through the Alertmanager webhook in batches, waits until
the read model shows them all open, then samples the CPU time (utime + stime, from /proc) of
the whole process tree over ``--window`` seconds and prints it in cores.

    python bench/idle.py            # 100,000 open alerts
    python bench/idle.py --quick    # 5,000
    python bench/idle.py --alerts 20000 --window 60
    python bench/idle.py --settle 180 --windows 4   # four 30 s windows after 3 minutes

Each window prints the cores of the whole tree and of each process (supervisor, API child,
worker child), then the PSS of each.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BATCH = 400
"""Alerts per webhook body (well under the API's body limit)."""
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 alerts")
    parser.add_argument("--window", type=float, default=30.0, help="seconds sampled")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before sampling")
    parser.add_argument("--windows", type=int, default=1, help="windows sampled one after another")
    args = parser.parse_args()
    count = 5_000 if args.quick else args.alerts
    with tempfile.TemporaryDirectory(prefix="helios-idle-") as tmp:
        data = Path(tmp) / "data"
        port = _free_port()
        process = _start_up(Path(tmp), data, port, log_level="warning")
        try:
            key = _routing_key(data, process)
            started = time.monotonic()
            _load(port, key, count)
            print(f"posted {count} alerts in {time.monotonic() - started:.1f} s", flush=True)
            _wait_projected(data / "readmodels.db", count, process)
            print(f"projected after {time.monotonic() - started:.1f} s", flush=True)
            time.sleep(args.settle)
            for _ in range(args.windows):
                before = _tree_cpu_s(process.pid)
                roles = _roles(process.pid)
                each = {role: _cpu_s(pid) for role, pid in roles.items()}
                clock = time.monotonic()
                time.sleep(args.window)
                used = _tree_cpu_s(process.pid) - before
                elapsed = time.monotonic() - clock
                parts = ", ".join(
                    f"{role} {(_cpu_s(pid) - each[role]) / elapsed:.3f}"
                    for role, pid in roles.items()
                )
                print(f"idle CPU at {count} open alerts: {used / elapsed:.3f} cores ({parts})")
                print(
                    "  PSS MiB: "
                    + ", ".join(f"{role} {_pss_mib(pid):.1f}" for role, pid in roles.items())
                )
                print(f"  load: {Path('/proc/loadavg').read_text().strip()}", flush=True)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return 0


def _start_up(tmp: Path, data: Path, port: int, *, log_level: str) -> subprocess.Popen[bytes]:
    """``helios up`` over ``data`` on ``port``, its log in ``tmp/up.log``, in its own session."""
    env = {
        **os.environ,
        "HELIOS_DATA_DIR": str(data),
        "HELIOS_LOG_LEVEL": log_level,
        # The bench posts as fast as the API takes it: no throttling of the one integration.
        "HELIOS_API_RATE_PER_INTEGRATION": "100000",
        "HELIOS_API_BURST_PER_INTEGRATION": "100000",
        "HELIOS_API_RATE_PER_TENANT": "100000",
        "HELIOS_API_BURST_PER_TENANT": "100000",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "helios.apps.cli", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "up.log", "wb"),  # closed with the process
        start_new_session=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _routing_key(data: Path, process: subprocess.Popen[bytes]) -> str:
    path = data / "integration.json"
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"helios up exited with {process.returncode}")
        if path.exists():
            try:
                return str(json.loads(path.read_text())["routing_key"])
            except (ValueError, KeyError):
                pass
        time.sleep(0.1)
    raise SystemExit("helios up did not write its integration key within 60 s")


def _webhook(start: int, stop: int) -> bytes:
    now = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "IdleBench",
                "instance": f"host-{n}:9100",
                "service": f"svc-{n % 50}",
                "severity": ("critical", "warning", "info")[n % 3],
            },
            "annotations": {"summary": f"idle bench alert {n}"},
            "startsAt": now,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{n:016x}",
        }
        for n in range(start, stop)
    ]
    return json.dumps(
        {
            "receiver": "bench",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": {},
            "commonLabels": {"alertname": "IdleBench"},
            "commonAnnotations": {},
            "externalURL": "http://bench",
            "version": "4",
            "groupKey": f"{{}}:{{batch={start}}}",
            "truncatedAlerts": 0,
        }
    ).encode()


def _load(port: int, key: str, count: int) -> None:
    url = f"http://127.0.0.1:{port}/v1/ingest/alertmanager/{key}"
    with httpx.Client(timeout=60) as client:
        for _ in range(600):
            try:
                client.get(f"http://127.0.0.1:{port}/schema/openapi.json")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        for start in range(0, count, BATCH):
            body = _webhook(start, min(count, start + BATCH))
            while True:
                response = client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                if response.status_code not in (429, 503):
                    break
                time.sleep(float(response.headers.get("Retry-After", "1")))
            if response.status_code >= 300:
                raise SystemExit(f"webhook refused: {response.status_code} {response.text}")


def _wait_projected(path: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    seen = -1
    while seen < count:
        if process.poll() is not None:
            raise SystemExit(f"helios up exited with {process.returncode}")
        time.sleep(2)
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                row = db.execute(
                    "SELECT COUNT(*) FROM alerts WHERE status IN ('triggered', 'acknowledged')"
                ).fetchone()
                seen = int(row[0])
        except sqlite3.Error:
            continue


def _roles(root: int) -> dict[str, int]:
    """The supervisor and its children by role (``--child ROLE`` in their command line)."""
    found = {"supervisor": root}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == root and b"--child" in argv:
            found[argv[argv.index(b"--child") + 1].decode()] = int(entry.name)
    return found


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of one process, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def _pss_mib(pid: int) -> float:
    """Proportional set size of one process in MiB (0 once it is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and every descendant still running."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid, parent = int(entry.name), int(fields[1])
        children.setdefault(parent, []).append(pid)
        stats[pid] = (int(fields[11]), int(fields[12]))  # utime, stime
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        utime, stime = stats.get(pid, (0, 0))
        total += utime + stime
        todo.extend(children.get(pid, ()))
    return total / _TICKS_PER_S


if __name__ == "__main__":
    raise SystemExit(main())
