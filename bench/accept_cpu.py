"""What accepting costs ``helios up``'s API child: CPU per accepted alert, under wrk.

    python bench/accept_cpu.py [--duration 8] [--per-request 10] [--rounds 1] [--repeated]
                               [--profile FILE] [--helios-setting HELIOS_NAME=VALUE ...]

Starts ``helios up`` as ``bench/peer.py`` does (fresh data directory, rate limits out of the
way, JSON logs to a file), loads its Alertmanager webhook with wrk (one thread, 32
connections, distinct alerts ``--per-request`` to a request) and reads utime + stime of each
child's process tree from ``/proc/PID/stat`` before and after. CPU time per accepted alert does
not depend on how busy the machine is the way alerts/s and latencies do: it is the number to
compare across changes. Prints one line per round and the load average around it.

Beside each child's CPU, the time its threads spent runnable but waiting for a core
(``/proc/PID/task/*/schedstat``): how much an answer waited on the other processes' CPU; and
the p50/p99 of the time the API itself took per accepted request (``duration_ms`` of its
access log lines), against wrk's: the rest is the server's queue, the network and wrk.

``--worker`` sets what the worker child does while wrk runs: ``running`` (as shipped, at
``HELIOS_UP_WORKER_NICENESS``), ``stopped`` (SIGSTOP for the length of the load, SIGCONT after:
the API's intake with both cores to itself and wrk, what the worker's share costs it) or
``idle`` (every thread of the worker moved to ``SCHED_IDLE``: it runs only on a core nothing
else wants). ``--worker running,stopped`` alternates them, round after round.

With ``--profile FILE``, ``py-spy`` (beside this Python, or on the PATH) samples the API child
for the length of the load and writes its stacks, collapsed (one line a stack, its count
last), to ``FILE``, one thread per stack root. Sampling costs the child some CPU of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peer  # the sibling benchmark, found through the line above

# py-spy installed beside this Python (a virtualenv), else the one on the PATH.
PY_SPY = next((str(p) for p in (Path(sys.executable).parent / "py-spy",) if p.exists()), "py-spy")


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


def waited_s(pid: int) -> float:
    """Seconds ``pid``'s threads spent runnable, waiting for a core (0 when unreadable)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def answered_ms(log: Path) -> tuple[float, float]:
    """p50 and p99 of ``duration_ms`` over the API's access log lines of 202 answers."""
    durations = []
    for line in log.read_text(errors="replace").splitlines():
        if '"request"' not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by the process's end
        if event.get("event") == "request" and event.get("status") == 202:
            durations.append(float(event["duration_ms"]))
    if not durations:
        return 0.0, 0.0
    durations.sort()
    return durations[len(durations) // 2], durations[
        min(len(durations) - 1, len(durations) * 99 // 100)
    ]


WORKER_MODES = ("running", "stopped", "idle")


@contextlib.contextmanager
def worker_as(mode: str, pid: int) -> Iterator[None]:
    """The worker child ``pid`` stopped, idle-scheduled or left running, for the block."""
    if mode == "stopped":
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)
        return
    if mode == "idle":
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
                os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))
    yield


def one_round(args: argparse.Namespace, worker: str = "running") -> str:
    starts_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with (
        peer.running("Helios", starts_at) as server,
        tempfile.TemporaryDirectory(prefix="helios-bench-accept-") as tmp,
    ):
        children = child_pids(server.process.pid)
        time.sleep(1.0)  # past the start-up work
        load_before = os.getloadavg()[0]
        before = {role: cpu_s(pid) for role, pid in children.items()}
        waited_before = {role: waited_s(pid) for role, pid in children.items()}
        sampler = None
        if args.profile:
            sampler = subprocess.Popen(
                [PY_SPY, "record", "--pid", str(children["api"]), "--rate", "200",
                 "--duration", str(args.duration), "--format", "raw", "--nonblocking", "--threads",
                 "--output", args.profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        with worker_as(worker, children["worker"]):
            result = peer.wrk_load(
                server,
                Path(tmp),
                per_request=args.per_request,
                repeated=args.repeated,
                seconds=args.duration,
            )
        after = {role: cpu_s(pid) for role, pid in children.items()}
        waited = {role: waited_s(pid) - waited_before[role] for role, pid in children.items()}
        if sampler is not None:
            sampler.wait()
        load_after = os.getloadavg()[0]
        inside_p50, inside_p99 = answered_ms(server.data_dir.parent / "helios.log")
    accepted = result["rps"] * args.duration * args.per_request
    per_alert = {role: (after[role] - before[role]) / max(accepted, 1) * 1e6 for role in children}
    cpu = "  ".join(
        f"{role} {us:.0f} us/alert (waited {waited[role] / max(accepted, 1) * 1e6:.0f})"
        for role, us in sorted(per_alert.items())
    )
    return (
        f"alerts/s {result['rps'] * args.per_request:,.0f}  p50 {result['p50_ms']:.1f} ms"
        f"  p99 {result['p99_ms']:.1f} ms  refused {result['refused']:.0f}"
        f"  (in the API p50 {inside_p50:.1f} ms, p99 {inside_p99:.1f} ms)  |  {cpu}"
        f"  |  load {load_before:.2f} -> {load_after:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="wrk seconds (default 8)")
    parser.add_argument("--per-request", type=int, default=10, help="alerts a request (10)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each a fresh helios up")
    parser.add_argument("--repeated", action="store_true", help="the same alert every time")
    parser.add_argument("--profile", metavar="FILE", help="py-spy's collapsed stacks of the API")
    parser.add_argument(
        "--worker",
        default="running",
        metavar="MODE[,MODE...]",
        help=f"the worker child during the load, alternated per round: {', '.join(WORKER_MODES)}",
    )
    parser.add_argument(
        "--helios-setting",
        action="append",
        default=[],
        metavar="HELIOS_NAME=VALUE",
        help="a setting given to helios up (repeatable)",
    )
    args = parser.parse_args()
    for setting in args.helios_setting:
        name, _, value = setting.partition("=")
        if not name.startswith("HELIOS_") or not _:
            parser.error(f"--helios-setting {setting!r}: expected HELIOS_NAME=VALUE")
        peer.HELIOS_SETTINGS[name] = value
    modes = args.worker.split(",")
    for mode in modes:
        if mode not in WORKER_MODES:
            parser.error(f"--worker {mode!r}: expected one of {', '.join(WORKER_MODES)}")
    for n in range(args.rounds):
        for mode in modes:
            label = f" worker {mode}" if len(modes) > 1 or mode != "running" else ""
            print(f"round {n + 1}{label}: {one_round(args, mode)}", flush=True)


if __name__ == "__main__":
    main()
