"""Seconds from the first enqueue until 10,000 distinct alerts are listed, in one process.

    python bench/visible.py [--alerts 10000] [--per-body 10] [--profile FILE]

The path ``helios up`` takes after its API accepted a webhook, without the HTTP server:
Alertmanager webhook bodies (``--per-body`` alerts each, every alert distinct) are enqueued
as envelopes on the durable embedded queue as fast as it takes them, while the ingest worker,
the followers (projector, notifier, fan-out when the settings turn it on) and the scheduler
run as ``helios up`` runs them, with the default settings (every ``HELIOS_*`` variable
ignored, the data directory a fresh temporary one). The clock stops when ``/v1/alerts``'s
query (``views.alerts.page``, pages of 500) lists every alert. The CPU time of the process is
printed too: on a shared machine it varies much less than the wall clock.

Printed next to it, measured in the same process on the same disk: a raw baseline, the
seconds SQLite takes to insert as many log rows (one per event, of the same sizes) and as
many alert rows, 1,000 per transaction, with nothing decided; then the bytes per alert of
each file and of each table and index in it (SQLite's ``dbstat``), after a checkpoint.
``--profile FILE`` writes cProfile statistics of every thread to ``FILE`` (slower).
``--from-log`` turns the inline projection off (``HELIOS_PROJECT_FROM_LOG=true``).
``--projector-child`` runs the projector as ``HELIOS_UP_PROJECTOR_CHILD=true`` makes ``helios
up`` run it: in a child process of its own (``helios up --child projector``) over the same
data directory, the followers left here letting it go first; its CPU is printed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from helios.apps.application.envelopes import envelope_message  # noqa: E402
from helios.apps.composition import open_read_models, open_services  # noqa: E402
from helios.apps.embedded.runner import first_start_integration, run_everything  # noqa: E402
from helios.apps.observability import configure_logging  # noqa: E402
from helios.apps.settings import Settings  # noqa: E402
from helios.apps.views import alerts  # noqa: E402
from helios.domain.values import Envelope, SourceKind  # noqa: E402

PAGE = 500
SEND_GROUP = 32
"""Envelopes enqueued concurrently, as many API requests in flight would be."""


def webhook(first: int, count: int, starts_at: str) -> bytes:
    """An Alertmanager webhook (version 4) of ``count`` distinct firing alerts."""
    items = [
        {
            "status": "firing",
            "labels": {
                "alertname": "BenchAlert",
                "service": f"svc-{n // 100}",
                "instance": f"host-{n}:9100",
                "severity": "critical",
                "bench_seq": str(n),
            },
            "annotations": {"summary": f"bench alert {n} on host-{n}"},
            "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.bench:9090/graph?g0.expr=up",
            "fingerprint": f"{n:016x}",
        }
        for n in range(first, first + count)
    ]
    return json.dumps(
        {
            "receiver": "helios",
            "status": "firing",
            "alerts": items,
            "groupLabels": {"alertname": "BenchAlert"},
            "commonLabels": {"alertname": "BenchAlert"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench:9093",
            "version": "4",
            "groupKey": '{}:{alertname="BenchAlert"}',
            "truncatedAlerts": 0,
        }
    ).encode()


def visible(db: object, tenant: str) -> int:
    """How many alerts ``/v1/alerts`` lists, counted page by page as a client would."""
    total, after = 0, None
    while True:
        rows, more = alerts.page(db, alerts.AlertFilter(tenant=tenant, after=after), limit=PAGE)  # type: ignore[arg-type]
        total += len(rows)
        if not more:
            return total
        after = (rows[-1].last_signal_at, rows[-1].dedup_key)


def listed(db: object, tenant: str, seq: int) -> bool:
    """Whether the alert ``bench_seq=seq`` is listed (the label filter of ``/v1/alerts``)."""
    where = alerts.AlertFilter(tenant=tenant, labels=(("bench_seq", str(seq)),))
    rows, _ = alerts.page(db, where, limit=1)  # type: ignore[arg-type]
    return bool(rows)


class ThreadProfiles:
    """cProfile in every thread started while it is on (the workers' threads included)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        def trace(*_: object) -> None:
            profile = cProfile.Profile()
            with self._lock:
                self.profiles.append(profile)
            sys.setprofile(None)
            profile.enable()

        threading.setprofile(trace)
        main = cProfile.Profile()
        self.profiles.append(main)
        main.enable()

    def dump(self, path: str) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]
        for profile in self.profiles:
            profile.disable()
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            try:
                stats.add(profile)
            except TypeError:
                continue  # a thread that never ran a profiled call
        stats.dump_stats(path)


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, float]:
    os.environ["HELIOS_DATA_DIR"] = str(data_dir)
    settings = Settings.from_env()
    configure_logging(log_format="json", level="warning")
    starts_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    async with open_services(settings) as services:
        details, _ = first_start_integration(services)
        tenant, integration = details["tenant"], details["integration"]
        bodies = [
            webhook(first, min(args.per_body, args.alerts - first), starts_at)
            for first in range(0, args.alerts, args.per_body)
        ]
        db = open_read_models(settings.effective_read_models_url)
        stop = asyncio.Event()
        profiles = ThreadProfiles() if args.profile else None
        if profiles:
            profiles.start()
        child = projector_child(data_dir) if args.projector_child else None
        began, cpu = time.perf_counter(), time.process_time()
        everything = asyncio.create_task(
            run_everything(services, stop, api=False, projector=child is None)
        )

        async def send(body: bytes) -> None:
            envelope = Envelope(
                ingest_id=uuid.uuid4().hex,
                tenant=tenant,
                integration=integration,
                source=SourceKind.ALERTMANAGER,
                received_at=int(time.time() * 1000),
                body=body,
            )
            await services.queue.send([envelope_message(envelope, correlation_id="bench")])

        for start in range(0, len(bodies), SEND_GROUP):
            await asyncio.gather(*(send(b) for b in bodies[start : start + SEND_GROUP]))
        sent = time.perf_counter() - began
        seen = 0
        while seen < args.alerts:
            # The last alert sent first (one index probe), the whole count only once it is
            # listed: polling must not take the workers' time.
            await asyncio.sleep(0.1)
            if listed(db, tenant, args.alerts - 1):
                seen = visible(db, tenant)
            if everything.done():
                everything.result()
                raise RuntimeError("the workers stopped")
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        child_cpu = cpu_of(child.pid) if child else 0.0
        if profiles and args.profile:
            profiles.dump(args.profile)
        stop.set()
        await everything
        if child:
            child.terminate()
            child.wait(timeout=30)
        db.close()
    return {"sent_s": sent, "visible_s": took, "cpu_s": cpu, "child_cpu_s": child_cpu}


def projector_child(data_dir: Path) -> subprocess.Popen[bytes]:
    """``helios up``'s projector child over ``data_dir``, started and its imports done."""
    env = {**os.environ, "HELIOS_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "helios.apps.cli", "up", "--child", "projector"]
    child = subprocess.Popen([*command, "--supervisor", str(os.getpid())], env=env)
    time.sleep(3.0)  # its imports and first read: not part of what is timed
    return child


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_baseline(data_dir: Path, alerts_count: int) -> float:
    """Seconds for plain SQLite inserts of the log rows and alert rows the run wrote."""
    source = sqlite3.connect(data_dir / "helios.db")
    sizes = [len(state) for (state,) in source.execute("SELECT state FROM stored_events")]
    source.close()
    path = data_dir / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, stream TEXT, version INTEGER,"
        " topic TEXT, state BLOB, UNIQUE (stream, version))"
    )
    conn.execute(
        "CREATE TABLE alerts (tenant TEXT, dedup_key TEXT, labels TEXT, status TEXT,"
        " last_signal_at INTEGER, PRIMARY KEY (tenant, dedup_key))"
    )
    # The rows are made before the clock starts: the baseline is SQLite's work alone.
    events = [(uuid.uuid4().hex, 1, "helios.alert.scored.v1", os.urandom(n)) for n in sizes]
    rows = [(f"{n:016x}", n) for n in range(alerts_count)]
    began = time.perf_counter()
    for start in range(0, len(events), 1000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (stream, version, topic, state) VALUES (?, ?, ?, ?)",
            events[start : start + 1000],
        )
        conn.execute("COMMIT")
    for start in range(0, alerts_count, 1000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO alerts VALUES ('t', ?, '{}', 'triggered', ?)", rows[start : start + 1000]
        )
        conn.execute("COMMIT")
    took = time.perf_counter() - began
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return took


def disk_report(data_dir: Path, alerts_count: int) -> None:
    for path in sorted(data_dir.glob("*.db")):
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    total = 0
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            total += path.stat().st_blocks * 512
    print(f"disk per alert (allocated blocks, after checkpoint): {total / alerts_count:.0f} B")
    for path in sorted(data_dir.glob("*.db")):
        conn = sqlite3.connect(path)
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name HAVING SUM(pgsize) > ?"
            " ORDER BY 2 DESC",
            (alerts_count,),
        ).fetchall()
        conn.close()
        print(f"  {path.name:<14} {path.stat().st_size / alerts_count:>7.0f} B/alert")
        for name, size in rows:
            print(f"      {name:<40} {size / alerts_count:>7.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--per-body", type=int, default=10)
    parser.add_argument("--profile", help="write cProfile statistics of every thread here")
    parser.add_argument(
        "--projector-child",
        action="store_true",
        help="the projector in a child process of its own (HELIOS_UP_PROJECTOR_CHILD)",
    )
    parser.add_argument(
        "--from-log",
        action="store_true",
        help="the projector only follows the log, no inline projection (HELIOS_PROJECT_FROM_LOG)",
    )
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("HELIOS_")]:
        del os.environ[name]  # the embedded default as shipped
    os.environ["HELIOS_LOG_LEVEL"] = "warning"
    if args.from_log:
        os.environ["HELIOS_PROJECT_FROM_LOG"] = "true"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="helios-bench-visible-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
        raw = raw_baseline(Path(tmp), args.alerts)
        print(
            f"{args.alerts} alerts in {args.alerts // args.per_body} bodies; load average"
            f" {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end (2 shared cores)"
        )
        print(f"  enqueued in           {result['sent_s']:>7.2f} s")
        print(f"  all visible after     {result['visible_s']:>7.2f} s")
        print(f"  CPU of this process   {result['cpu_s']:>7.2f} s  (until all visible)")
        if args.projector_child:
            print(
                f"  CPU of the projector  {result['child_cpu_s']:>7.2f} s  (its child, until then)"
            )
        print(f"  raw SQLite inserts    {raw:>7.2f} s  (same log rows + alert rows, 1,000/tx)")
        print(f"  ratio visible/raw     {result['visible_s'] / raw:>7.1f}")
        disk_report(Path(tmp), args.alerts)


if __name__ == "__main__":
    main()
