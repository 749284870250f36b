"""What accepting costs ``helios up``'s API child: CPU per accepted alert, under wrk.

    python bench/accept_cpu.py [--duration 8] [--per-request 10] [--rounds 1] [--repeated]

Starts ``helios up`` as ``bench/peer.py`` does (fresh data directory, rate limits out of the
way, JSON logs to a file), loads its Alertmanager webhook with wrk (one thread, 32
connections, distinct alerts ``--per-request`` to a request) and reads utime + stime of each
child's process tree from ``/proc/PID/stat`` before and after. CPU time per accepted alert does
not depend on how busy the machine is the way alerts/s and latencies do: it is the number to
compare across changes. Prints one line per round and the load average around it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peer  # the sibling benchmark, found through the line above


def child_pids(root: int) -> dict[str, int]:
    """The supervised children of ``helios up`` by role (``--child ROLE`` on their line)."""
    found: dict[str, int] = {}
    for pid in peer.process_tree(root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--child" in argv:
            found[argv[argv.index(b"--child") + 1].decode()] = pid
    return found


def cpu_s(pid: int) -> float:
    """utime + stime of ``pid``'s process tree, in seconds."""
    return peer.cpu_seconds(pid)[0]


def one_round(args: argparse.Namespace) -> str:
    starts_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with (
        peer.running("Helios", starts_at) as server,
        tempfile.TemporaryDirectory(prefix="helios-bench-accept-") as tmp,
    ):
        children = child_pids(server.process.pid)
        time.sleep(1.0)  # past the start-up work
        load_before = os.getloadavg()[0]
        before = {role: cpu_s(pid) for role, pid in children.items()}
        result = peer.wrk_load(
            server,
            Path(tmp),
            per_request=args.per_request,
            repeated=args.repeated,
            seconds=args.duration,
        )
        after = {role: cpu_s(pid) for role, pid in children.items()}
        load_after = os.getloadavg()[0]
    accepted = result["rps"] * args.duration * args.per_request
    per_alert = {role: (after[role] - before[role]) / max(accepted, 1) * 1e6 for role in children}
    cpu = "  ".join(f"{role} {us:.0f} us/alert" for role, us in sorted(per_alert.items()))
    return (
        f"alerts/s {result['rps'] * args.per_request:,.0f}  p50 {result['p50_ms']:.1f} ms"
        f"  p99 {result['p99_ms']:.1f} ms  refused {result['refused']:.0f}  |  {cpu}"
        f"  |  load {load_before:.2f} -> {load_after:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="wrk seconds (default 8)")
    parser.add_argument("--per-request", type=int, default=10, help="alerts a request (10)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each a fresh helios up")
    parser.add_argument("--repeated", action="store_true", help="the same alert every time")
    args = parser.parse_args()
    for n in range(args.rounds):
        print(f"round {n + 1}: {one_round(args)}", flush=True)


if __name__ == "__main__":
    main()
