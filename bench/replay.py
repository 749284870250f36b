"""Benchmark: ``helios replay verify`` throughput and peak memory as history grows.

    python bench/replay.py [--sizes 100000,1000000] [--backends sqlite,postgres]
                           [--workloads steady,uniform] [--rounds 3]
                           [--postgres URL] [--capacity 4096]

For each backend, workload and size, a log of about that many events is written by the real
Ingestor (PagerDuty envelopes in batches of 500). In both workloads the number of distinct
alerts grows with history (one per four envelopes), so at 1M events there are ten times as
many alerts as at 100k, far more than the states replay keeps in memory:

* ``steady``: alerts live and die. About 1,000 are active at a time; each is triggered,
  repeated and resolved, and one envelope in twenty re-triggers or resolves an alert from
  long ago (its state must come back from the spill).
* ``uniform``: the worst case for any cache. Every alert is touched once per round, the
  rounds span the whole history, so every state is evicted before it is needed again.

Then, in the same process, ``--rounds`` interleaved pairs of a raw paged read + decode of the
whole log (``read_log``, pages of 1,000) and ``verify`` of the same log; the medians and the
median ratio are printed (target >= 0.3). Peak memory is measured by a verify in a fresh
child process: the growth of its peak RSS during verify, over what the process held before
(flat memory: the growth at the largest size close to the growth at the smallest).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from helios import replay
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.application.replay.states import DEFAULT_CAPACITY
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore

T0 = 1_773_480_000_000
EVENTS_PER_ENVELOPE = 6  # measured average of the mixes below, used to size the history
BATCH = 500
ACTIVE = 1_000  # alerts alive at a time in the steady workload
ROUNDS_PER_ALERT = 4

Workload = Callable[[int, int], tuple[int, str]]
"""(envelope number, distinct alerts) -> (alert number, action)."""


def uniform(seq: int, alerts: int) -> tuple[int, str]:
    round_ = seq // alerts
    return seq % alerts, "resolve" if round_ % 3 == 2 else "trigger"


def steady(seq: int, alerts: int) -> tuple[int, str]:
    block, within = divmod(seq, ACTIVE * ROUNDS_PER_ALERT)
    if seq % 20 == 19 and block > 0:
        # An alert from long ago fires again (or clears): its state was spilled long since.
        old = (seq * 7_919) % (block * ACTIVE)
        return old, "trigger" if (seq // 20) % 2 == 0 else "resolve"
    round_ = within // ACTIVE
    return block * ACTIVE + within % ACTIVE, "resolve" if round_ == 3 else "trigger"


WORKLOADS: dict[str, Workload] = {"steady": steady, "uniform": uniform}


def envelope(seq: int, alerts: int, workload: Workload) -> Envelope:
    key, action = workload(seq, alerts)
    at = T0 + seq * 1_000
    body = {
        "routing_key": "bench",
        "event_action": action,
        "dedup_key": f"svc-{key % 50}/check-{key}",
        "payload": {
            "summary": f"check {key} failing",
            "source": f"host-{key % 200}",
            "severity": ("critical", "error", "warning", "info")[key % 4],
            "timestamp": format_rfc3339(at),
            "component": f"svc-{key % 50}",
        },
    }
    return Envelope(
        ingest_id=f"b-{seq}",
        tenant="bench",
        integration="pd",
        source=SourceKind.PAGERDUTY,
        received_at=at,
        body=json.dumps(body).encode(),
    )


def fill(store: EventStore, events: int, workload: Workload) -> float:
    """Write about ``events`` events; returns seconds taken."""
    envelopes = max(BATCH, events // EVENTS_PER_ENVELOPE)
    alerts = max(100, envelopes // ROUNDS_PER_ALERT)
    ingest = Ingestor(store)
    started = time.perf_counter()
    for first in range(0, envelopes, BATCH):
        ingest.ingest([envelope(seq, alerts, workload) for seq in range(first, first + BATCH)])
    return time.perf_counter() - started


def raw_read(store: EventStore) -> tuple[int, float]:
    started = time.perf_counter()
    after, count = 0, 0
    while True:
        page = store.read_log(after, 1_000)
        count += len(page)
        if len(page) < 1_000:
            break
        after = page[-1].position
    return count, time.perf_counter() - started


def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM, Linux): unlike ``ru_maxrss``, it is not
    inherited from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_growth(url: str, capacity: int, out: multiprocessing.Queue[float]) -> None:
    store = open_event_store(url)
    before = _peak_rss_mib()
    report = replay.verify(store, capacity=capacity)
    after = _peak_rss_mib()
    store.close()
    assert report.ok
    out.put(after - before)


def peak_rss_growth(url: str, capacity: int) -> float:
    """MiB the peak RSS of a fresh process grew by while it ran one verify."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[float] = context.Queue()
    child = context.Process(target=_peak_growth, args=(url, capacity, out))
    child.start()
    growth = out.get()
    child.join()
    return growth


def measure(
    url: str, size: int, workload: Workload, capacity: int, rounds: int
) -> dict[str, float]:
    store = open_event_store(url)
    try:
        fill_s = fill(store, size, workload)
        raw_rates, verify_rates = [], []
        for _ in range(rounds):
            count, raw_s = raw_read(store)
            report = replay.verify(store, capacity=capacity)
            assert report.ok, report.divergences[:1]
            raw_rates.append(count / raw_s)
            verify_rates.append(report.events / report.elapsed_s)
    finally:
        store.close()
    return {
        "events": count,
        "fill_s": fill_s,
        "raw_rate": statistics.median(raw_rates),
        "verify_rate": statistics.median(verify_rates),
        "ratio": statistics.median(v / r for v, r in zip(verify_rates, raw_rates, strict=True)),
        "peak_mib": peak_rss_growth(url, capacity),
    }


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="helios-bench-") as directory:
        yield f"sqlite:{Path(directory) / 'bench.db'}"


@contextmanager
def postgres_url(server: str) -> Iterator[str]:
    import psycopg

    name = f"helios_bench_replay_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlsplit(server)._replace(path=f"/{name}").geturl()
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="history sizes in events")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workloads", default="steady,uniform", help="steady and/or uniform")
    parser.add_argument("--rounds", type=int, default=3, help="raw/verify pairs per size")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "HELIOS_BENCH_DATABASE_URL", "postgresql://helios@127.0.0.1:55432/postgres"
        ),
        help="PostgreSQL server URL (default: $HELIOS_BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--capacity", type=int, default=DEFAULT_CAPACITY, help="states kept in memory"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'backend':9} {'workload':8} {'events':>9} {'raw ev/s':>10} {'verify ev/s':>12} "
        f"{'ratio':>6} {'peak +MiB':>10} {'fill s':>7}"
    )
    for backend in args.backends.split(","):
        for name in args.workloads.split(","):
            for size in sizes:
                context = sqlite_url() if backend == "sqlite" else postgres_url(args.postgres)
                with context as url:
                    r = measure(url, size, WORKLOADS[name], args.capacity, args.rounds)
                print(
                    f"{backend:9} {name:8} {r['events']:>9,.0f} {r['raw_rate']:>10,.0f} "
                    f"{r['verify_rate']:>12,.0f} {r['ratio']:>6.2f} {r['peak_mib']:>10.1f} "
                    f"{r['fill_s']:>7.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    sys.exit(main())
