"""CPU per new alert of ``helios up``'s worker as the open alerts grow: block after block of new
alerts into one data directory, each block's cost next to the first one's.

    python bench/growth.py [--block 10000] [--blocks 10] [--per-body 10]

One process over a fresh data directory with the default settings, set up as the worker child
of ``helios up`` runs: the store and read models in SQLite, the projector writing each batch
inline as it commits, the WAL checkpointer in its own thread, the start-up heap frozen. Each
block's Alertmanager webhooks (``--per-body`` new alerts each, none resolved) are put on the
embedded queue first, outside the count, then the ingest worker takes them all, and this
prints for the block, in microseconds of CPU per alert:

- ingest: receiving, deciding, appending (the process's CPU less the two below);
- inline projection: what the projector spends on the batches' rows (its thread's CPU);
- checkpointer: the WAL checkpointer's thread, copying what the commits wrote;
- total, and its ratio to the first block's: per-alert work that stays flat as the alerts
  pile up keeps that ratio at 1.

Then the bytes the block wrote per alert (``wchar``: the WAL frames of its commits and the
checkpoints' copies into the files), and the store's and the read models' files (with their
WALs) on disk per alert so far. A new alert's rows go to places all over most of the tables'
keys (dedup keys and stream ids are hashes, instance labels unique), and a commit writes every
page it changed whole: the more pages a table has, the fewer of a batch's rows share one, so
the bytes written per alert grow with the alerts held while the bytes stored per alert do not.

The raw baseline, in the same process after the blocks: nothing but ``sqlite3`` writing the
label rows of the same alerts (five per alert, keyed as ``alert_labels`` keys them: the table
by tenant, dedup key and name, an index by name and value) into a fresh file, WAL, a
transaction per 1,250 alerts as the inline projector's pages, a passive checkpoint every
eighth: its ratio per block is what SQLite's own B-trees add as the rows pile up, with no
Helios code in the way.
CPU numbers, not wall clock: a shared machine moves them little (the load average is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from stages import SEND_GROUP, InlineCpu, ingest, send  # noqa: E402
from visible import webhook  # noqa: E402

from helios.adapters.sqlite_checkpoints import WalCheckpointer  # noqa: E402
from helios.apps.composition import open_checkpointer, open_services  # noqa: E402
from helios.apps.embedded.heap import settle_long_lived_heap  # noqa: E402
from helios.apps.embedded.runner import first_start_integration  # noqa: E402
from helios.apps.observability import configure_logging  # noqa: E402
from helios.apps.settings import Settings  # noqa: E402

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def thread_cpu(thread: threading.Thread | None) -> float:
    """utime + stime of a running thread of this process, in seconds (0 once it ended)."""
    if thread is None or thread.native_id is None:
        return 0.0
    try:
        stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


CHECKPOINTER_THREAD = "wal-checkpointer"


def on_disk(path: Path) -> int:
    """A SQLite file's bytes with its WAL's."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _named(name: str) -> threading.Thread | None:
    return next((thread for thread in threading.enumerate() if thread.name == name), None)


def written_bytes() -> int:
    """Bytes this process has handed to ``write``/``pwrite`` so far (``wchar`` of
    ``/proc/self/io``): the WAL frames of every commit and the checkpoints' copies."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


RAW_PAGE_ALERTS = 1_250
"""Alerts per transaction of the raw baseline: an inline page of 5,000 log entries is about
1,250 new alerts."""


def raw_label_rows(first: int, count: int) -> list[tuple[str, str, str, str, int]]:
    """The label rows of alerts ``first`` to ``first + count - 1`` as ``bench/visible.py``
    labels them, under a hashed dedup key as the Alertmanager normalizer makes one."""
    tenant = "00000000-0000-4000-8000-000000000000"
    rows = []
    for n in range(first, first + count):
        key = "alertmanager:" + hashlib.sha256(f"{n:016x}".encode()).hexdigest()[:32]
        labels = {
            "alertname": "BenchAlert", "bench_seq": str(n), "instance": f"host-{n}:9100",
            "service": f"svc-{n // 100}", "severity": "critical",
        }  # fmt: skip
        rows += [(tenant, key, name, value, n) for name, value in labels.items()]
    return rows


def raw_baseline(args: argparse.Namespace, directory: Path) -> list[float]:
    """CPU microseconds per alert of each block's label rows, written by ``sqlite3`` alone."""
    conn = sqlite3.connect(directory / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE labels (tenant TEXT NOT NULL, dedup_key TEXT NOT NULL, name TEXT NOT NULL,"
        " value TEXT NOT NULL, last_signal_at BIGINT NOT NULL,"
        " PRIMARY KEY (tenant, dedup_key, name)) WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX labels_by_value ON labels (tenant, name, value, last_signal_at)")
    insert = "INSERT INTO labels VALUES (?, ?, ?, ?, ?)"
    spent: list[float] = []
    try:
        for block in range(args.blocks):
            end = (block + 1) * args.block
            pages = [
                raw_label_rows(first, min(RAW_PAGE_ALERTS, end - first))
                for first in range(block * args.block, end, RAW_PAGE_ALERTS)
            ]
            began = time.process_time()
            for number, rows in enumerate(pages, start=1):
                conn.execute("BEGIN")
                conn.executemany(insert, rows)
                conn.execute("COMMIT")
                if number % 8 == 0:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            spent.append((time.process_time() - began) * 1e6 / args.block)
    finally:
        conn.close()
    return spent


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    os.environ["HELIOS_DATA_DIR"] = str(data_dir)
    settings = Settings.from_env()
    starts_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    checkpointer = open_checkpointer(settings)
    assert isinstance(checkpointer, WalCheckpointer)  # the embedded default: SQLite files
    files = {"store": data_dir / "helios.db", "read models": data_dir / "readmodels.db"}
    async with open_services(settings) as services:
        details, _ = first_start_integration(services)
        inline = InlineCpu(services, settings)
        settle_long_lived_heap()
        checkpointer.start()
        print(
            f"{'alerts':>17} {'ingest':>7} {'inline':>7} {'ckpt':>6} {'total':>7}"
            f" {'ratio':>6} {'written B':>10} {'store B':>8} {'read models B':>13}"
        )
        totals: list[float] = []
        try:
            for block in range(args.blocks):
                first_alert = block * args.block
                bodies = [
                    webhook(n, min(args.per_body, first_alert + args.block - n), starts_at)
                    for n in range(first_alert, first_alert + args.block, args.per_body)
                ]
                for start in range(0, len(bodies), SEND_GROUP):
                    group = bodies[start : start + SEND_GROUP]
                    await asyncio.gather(*(send(services, details, body) for body in group))
                projected, checkpointed = inline.seconds, thread_cpu(_named(CHECKPOINTER_THREAD))
                wrote = written_bytes()
                began = time.process_time()
                await ingest(services, len(bodies))
                spent = time.process_time() - began
                projection = inline.seconds - projected
                copying = thread_cpu(_named(CHECKPOINTER_THREAD)) - checkpointed
                wrote = written_bytes() - wrote
                per = 1e6 / args.block
                total = spent * per
                totals.append(total)
                sizes = [on_disk(path) / (first_alert + args.block) for path in files.values()]
                print(
                    f"{first_alert:>8}-{first_alert + args.block:<8}"
                    f" {(spent - projection - copying) * per:>7.1f} {projection * per:>7.1f}"
                    f" {copying * per:>6.1f} {total:>7.1f} {total / totals[0]:>6.2f}"
                    f" {wrote / args.block:>10,.0f} {sizes[0]:>8,.0f} {sizes[1]:>13,.0f}",
                    flush=True,
                )
        finally:
            inline.close()
            checkpointer.stop()
    for times in (10, 100):
        if len(totals) >= times:
            ratio = totals[times - 1] / totals[0]
            print(f"ratio CPU per new alert at {times}x the open alerts: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=10_000, help="new alerts per block")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--per-body", type=int, default=10)
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("HELIOS_")]:
        del os.environ[name]  # the embedded default as shipped
    os.environ["HELIOS_LOG_LEVEL"] = "warning"
    configure_logging(log_format="json", level="warning")
    print(
        f"{args.blocks} blocks of {args.block} new alerts, {args.per_body} a body;"
        f" load average {os.getloadavg()[0]:.2f}; CPU microseconds per alert"
    )
    with tempfile.TemporaryDirectory(prefix="helios-bench-growth-") as tmp:
        asyncio.run(run(args, Path(tmp) / "data"))
        raw = raw_baseline(args, Path(tmp))
    print("raw baseline, sqlite3 alone writing the same alerts' label rows (us per alert):")
    print("  " + " ".join(f"{spent:.1f}" for spent in raw))
    for times in (10, 100):
        if len(raw) >= times:
            ratio = raw[times - 1] / raw[0]
            print(f"ratio raw label rows per alert at {times}x the open alerts: {ratio:.2f}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
