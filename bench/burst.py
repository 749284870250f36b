"""Where the time until a burst is listed goes, on ``helios up`` as shipped.

    python bench/burst.py [--alerts 10000] [--rounds 3] [--split] [--timeline] [--no-wrk]
                          [--memory-at N]
                          [--helios-setting HELIOS_NAME=VALUE ...]

Starts ``helios up`` as ``bench/peer.py`` does (fresh data directory, default settings, rate
limits out of the way), sends ``--alerts`` distinct alerts with wrk, 10 to a request, and
prints for each round:

- **sent**: seconds from the first send until wrk had every answer (each alert is durable
  when it is answered);
- **stored**: until the read models' ``alerts`` table holds every alert (a read-only SQLite
  connection of this process, polled every 5 ms): what deciding the alerts, appending their
  events and projecting them costs, without the API;
- **listed**: until ``GET /v1/alerts`` lists every alert, polled as ``bench/peer.py`` polls
  (the last alert sent first, then the count page by page): what ``bench/peer.py`` reports;
- **count**: how long that last count took (pages of 500);
- the CPU (utime + stime) each child of ``helios up`` spent from the first send until listed.

``--split`` runs two ``helios up`` side by side instead, and sends each half the alerts at the
same time: each one's worker gets a core of its own, nothing shared and nothing to agree on.
It is the most that dividing one worker's work evenly over two cores could give; the times
printed are those of the slower half.

``--timeline`` adds how many alerts the read models held every 0.1 s (``seconds:alerts``).
``--memory-at N`` then loads the round's instances on to ``N`` alerts in all (100 a request,
split between them as the burst was), waits until they are listed, and prints the memory of
every process of every instance (PSS summed, sampled as ``bench/peer.py`` samples its memory
at ``--active`` alerts, a few seconds after the last is listed): what one instance and an
even split would each hold next to Alertmanager's memory at as many alerts.
``--no-wrk`` sends from httpx clients in this process instead of wrk (``apt-get install wrk``):
slower to send, for a machine without wrk.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accept_cpu  # sibling benchmarks, found through the line above
import peer

PER_REQUEST = 10
STORED_POLL_S = 0.005
SETTLE_S = 4.0
"""Seconds a fresh ``helios up`` is left alone before the burst (start-up work done)."""


def _cpu_by_role(root: int) -> dict[str, float]:
    """utime + stime of each child of ``helios up`` (and what it started), by its role."""
    return {role: peer.cpu_seconds(pid)[0] for role, pid in accept_cpu.child_pids(root).items()}


class _Stored(threading.Thread):
    """Polls the read models' ``alerts`` table until it holds ``total`` rows."""

    def __init__(self, server: peer.Server, total: int, began: float) -> None:
        super().__init__(daemon=True)
        self.path = server.data_dir / "readmodels.db"
        self.total = total
        self.began = began
        self.seen: list[tuple[float, int]] = []

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            while True:
                try:
                    held = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
                except sqlite3.OperationalError:  # not made yet
                    held = 0
                self.seen.append((time.perf_counter() - self.began, held))
                if held >= self.total:
                    return
                time.sleep(STORED_POLL_S)
        finally:
            conn.close()

    @property
    def done_at(self) -> float:
        return self.seen[-1][0]

    def timeline(self) -> str:
        marks, next_mark = [], 0.0
        for at, held in self.seen:
            if at >= next_mark:
                marks.append(f"{at:.1f}:{held}")
                next_mark = round(at, 1) + 0.1
        return " ".join(marks)


class _Burst:
    """One instance sent ``total`` alerts: what it measured."""

    def __init__(
        self, server: peer.Server, client: httpx.Client, total: int, *, use_wrk: bool
    ) -> None:
        self.server = server
        self.use_wrk = use_wrk
        self.client = client
        self.total = total
        self.sent = self.listed = self.count_s = 0.0
        self.cpu: dict[str, float] = {}
        self.stored: _Stored | None = None
        self.error: BaseException | None = None
        self.memory_mib = 0.0

    def run(self, began: float) -> None:
        try:
            server, total = self.server, self.total
            before = _cpu_by_role(server.process.pid)
            self.stored = _Stored(server, total, began)
            self.stored.start()
            send = peer.wrk_send if self.use_wrk else peer.send_alerts
            refused = send(server, 0, total, PER_REQUEST)
            if refused:
                raise RuntimeError(f"{refused} requests refused")
            self.sent = time.perf_counter() - began
            counted = self.server.count

            def timed_count(client: httpx.Client, *, expected: int) -> int:
                started = time.perf_counter()
                try:
                    return counted(client, expected=expected)
                finally:
                    self.count_s = time.perf_counter() - started

            server.count = timed_count  # type: ignore[method-assign]
            try:
                peer.wait_visible(server, self.client, total, timeout_s=600)
            finally:
                server.count = counted  # type: ignore[method-assign]
            self.listed = time.perf_counter() - began
            after = _cpu_by_role(server.process.pid)
            self.cpu = {role: after[role] - before.get(role, 0.0) for role in after}
            self.stored.join(timeout=60)
        except BaseException as error:  # reported by the round, in the main thread
            self.error = error

    def load_to(self, active: int) -> None:
        """Send distinct alerts after the burst's until ``active`` are open, wait until they
        are listed, and take the memory (PSS) of the instance's processes."""
        try:
            server = self.server
            send = peer.wrk_send if self.use_wrk else peer.send_alerts
            refused = send(server, self.total, active - self.total, peer.LOAD_BATCH)
            if refused:
                raise RuntimeError(f"{refused} requests refused")
            peer.wait_visible(server, self.client, active, timeout_s=3600, spacing=10.0)
            time.sleep(peer.SETTLE_S)
            self.memory_mib = peer.memory_mib(server.process.pid)["pss"]
        except BaseException as error:  # reported by the round, in the main thread
            self.error = error


def _each(bursts: Sequence[_Burst], work: Callable[[_Burst], None]) -> None:
    """``work`` for every instance at once, each in a thread; the first error raised."""
    threads = [threading.Thread(target=work, args=(burst,)) for burst in bursts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for burst in bursts:
        if burst.error is not None:
            raise burst.error


def one_round(
    total: int, *, split: bool, starts_at: str, use_wrk: bool, memory_at: int = 0
) -> list[_Burst]:
    parts = 2 if split else 1
    with ExitStack() as stack:
        bursts = []
        for _ in range(parts):
            server = stack.enter_context(peer.running("Helios", starts_at))
            client = stack.enter_context(httpx.Client(timeout=120))
            bursts.append(_Burst(server, client, total // parts, use_wrk=use_wrk))
        time.sleep(SETTLE_S)
        began = time.perf_counter()
        _each(bursts, lambda burst: burst.run(began))
        if memory_at:
            _each(bursts, lambda burst: burst.load_to(memory_at // parts))
        return bursts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Seconds until a burst of distinct alerts is stored and listed by helios up.",
    )
    parser.add_argument("--alerts", type=int, default=peer.VISIBLE, help="alerts in the burst")
    parser.add_argument("--rounds", type=int, default=3, help="fresh instances, one after another")
    parser.add_argument(
        "--split", action="store_true", help="two instances side by side, half the alerts each"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="alerts in the read models every 0.1 s"
    )
    parser.add_argument(
        "--no-wrk", action="store_true", help="send from httpx clients in this process"
    )
    parser.add_argument(
        "--memory-at",
        type=int,
        default=0,
        metavar="N",
        help="then load on to N alerts in all and print the instances' memory (PSS)",
    )
    peer.add_helios_setting_option(parser)
    args = parser.parse_args(argv)
    peer.take_helios_settings(parser, args.helios_setting)
    parts = 2 if args.split else 1
    if args.alerts % (PER_REQUEST * parts):
        parser.error(f"--alerts must be a multiple of {PER_REQUEST * parts}")
    if args.memory_at and (
        args.memory_at <= args.alerts or (args.memory_at - args.alerts) % (peer.LOAD_BATCH * parts)
    ):
        parser.error(
            f"--memory-at must be above --alerts by a multiple of {peer.LOAD_BATCH * parts}"
        )
    starts_at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    what = "two instances, half each" if args.split else "one instance"
    print(f"{args.alerts:,} distinct alerts, {PER_REQUEST} a request, {what}")
    listed: list[float] = []
    for number in range(1, args.rounds + 1):
        load = os.getloadavg()[0]
        bursts = one_round(
            args.alerts,
            split=args.split,
            starts_at=starts_at,
            use_wrk=not args.no_wrk,
            memory_at=args.memory_at,
        )
        last = max(bursts, key=lambda burst: burst.listed)
        stored = max(burst.stored.done_at for burst in bursts if burst.stored)
        listed.append(last.listed)
        cpu = ", ".join(
            f"{role} {seconds:.2f}"
            for burst in bursts
            for role, seconds in sorted(burst.cpu.items())
            if seconds >= 0.01
        )
        print(
            f"round {number}: sent {max(b.sent for b in bursts):.2f} s, stored {stored:.2f} s, "
            f"listed {last.listed:.2f} s (its count {last.count_s * 1000:.0f} ms); "
            f"CPU s: {cpu}; load average {load:.2f}",
            flush=True,
        )
        if args.timeline:
            for burst in bursts:
                if burst.stored:
                    print(f"  {burst.stored.timeline()}")
        if args.memory_at:
            each = " + ".join(f"{burst.memory_mib:.0f}" for burst in bursts)
            print(
                f"  memory at {args.memory_at:,} alerts: "
                f"{sum(burst.memory_mib for burst in bursts):.0f} MiB PSS"
                + (f" ({each})" if len(bursts) > 1 else ""),
                flush=True,
            )
    print(f"listed: median {statistics.median(listed):.2f} s of {len(listed)} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
