"""Memory of each process of ``helios up`` after a burst, and what the worker gives back idle.

Starts ``helios up`` on a fresh data directory and a free port, posts ``--alerts`` distinct
firing alerts (as ``bench/idle.py`` does), waits until the read model shows them all open, then
prints the PSS of the supervisor, the API child and the worker child every ``--every`` seconds
for ``--watch`` seconds, and at the end the worker's memory by kind of mapping (from
``/proc/PID/smaps``): anonymous memory (the Python heap, malloc's arenas and free lists, DuckDB's
buffers, SQLite's page caches), shared libraries (of which DuckDB's), and other files.

    python bench/memory.py                         # 20,000 alerts, idle trim as configured
    HELIOS_IDLE_TRIM_S=0 python bench/memory.py    # the same without the trim, to compare
    python bench/memory.py --alerts 100000 --watch 40
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from idle import _free_port, _load, _roles, _routing_key, _start_up, _wait_projected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--watch", type=float, default=20.0, help="seconds watched after")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between readings")
    parser.add_argument("--log", help="keep helios up's log (stderr) in this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="helios-memory-") as tmp:
        data = Path(tmp) / "data"
        port = _free_port()
        process = _start_up(
            Path(tmp), data, port, log_level=os.environ.get("HELIOS_LOG_LEVEL", "warning")
        )
        try:
            key = _routing_key(data, process)
            _wait_ready(port, process)
            time.sleep(3)
            print(f"idle: {_pss_line(process.pid)}", flush=True)
            started = time.monotonic()
            _load(port, key, args.alerts)
            _wait_projected(data / "readmodels.db", args.alerts, process)
            print(f"{args.alerts} open after {time.monotonic() - started:.1f} s", flush=True)
            watched = time.monotonic()
            while time.monotonic() - watched <= args.watch:
                print(f"+{time.monotonic() - watched:4.1f} s: {_pss_line(process.pid)}", flush=True)
                time.sleep(args.every)
            worker = _children(process.pid).get("worker")
            if worker is not None:
                print("worker child by mapping (MiB PSS):")
                for kind, mib in sorted(_by_mapping(worker).items(), key=lambda kv: -kv[1]):
                    print(f"  {kind:<28} {mib:8.1f}")
            print(f"load: {Path('/proc/loadavg').read_text().strip()}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            if args.log:
                Path(args.log).write_bytes((Path(tmp) / "up.log").read_bytes())
    return 0


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until ``/readyz`` answers 200: the children have imported and opened what they serve
    with (the idle reading taken earlier would miss most of their start-up memory)."""
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"helios up exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("helios up was not ready within 120 s")


def _children(root: int) -> dict[str, int]:
    """The children of ``root`` by role (``--child ROLE`` in their command line)."""
    return {role: pid for role, pid in _roles(root).items() if role != "supervisor"}


def _pss_mib(pid: int, field: str = "Pss") -> float:
    """``field`` of ``/proc/PID/smaps_rollup`` in MiB (0 once the process is gone)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    found = re.search(rf"^{field}:\s+(\d+) kB", rollup, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def _pss_line(root: int) -> str:
    """Each process's PSS, then its anonymous part alone: a shared library's pages are split
    between every process on the host that maps them (DuckDB's, another Helios's, ...), so
    PSS moves with what else runs, the anonymous part does not."""
    roles = {"supervisor": root, **dict(sorted(_children(root).items()))}
    parts = {role: _pss_mib(pid) for role, pid in roles.items()}
    anon = {role: _pss_mib(pid, "Pss_Anon") for role, pid in roles.items()}
    return (
        f"total {sum(parts.values()):6.1f} MiB = "
        + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        + f" (anonymous {sum(anon.values()):.1f} = "
        + ", ".join(f"{k} {v:.1f}" for k, v in anon.items())
        + ")"
    )


def _by_mapping(pid: int) -> dict[str, float]:
    """PSS of ``pid`` in MiB by what is mapped: anonymous, [heap], DuckDB, other libraries..."""
    kinds: dict[str, float] = {}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            path = head[5] if len(head) > 5 else ""
            if not path:
                kind = "anonymous (heaps, arenas)"
            elif path == "[heap]":
                kind = "[heap] (brk, main arena)"
            elif "duckdb" in path:
                kind = "DuckDB library"
            elif ".so" in path or "python3" in path:
                kind = "other libraries, python"
            elif path.endswith((".db", "-shm", "-wal")):
                kind = "SQLite files (mmap/shm)"
            elif path.startswith("["):
                kind = path
            else:
                kind = "other files"
        elif head and head[0] == "Pss:":
            kinds[kind] = kinds.get(kind, 0.0) + int(head[1]) / 1024
    return kinds


if __name__ == "__main__":
    raise SystemExit(main())
