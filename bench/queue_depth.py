"""What asking the embedded queue for its depth costs, as the messages waiting in it pile up.

    python bench/queue_depth.py [--waiting 1000 10000] [--asks 50]

While the worker decides a burst, its followers ask the ingest queue's depth every tenth of a
second (they let the worker go first until it is drained), and the analytics worker and the
scheduler ask it too. For each ``--waiting`` count, envelope-sized messages (4 KB, about an
Alertmanager webhook of 10 alerts) are sent through the intake and half of them moved into the
queue's file by a receive, as during a burst; then ``depth()`` and ``backlog()`` (the gauges of
``/metrics``, with the oldest message's age) are each asked ``--asks`` times. Printed: the
median milliseconds per ask of each, and, as the baseline, a bare ``sqlite3`` count of the same
waiting rows by the same index, run in the same process on the same file.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from helios.adapters.embedded_queue import EmbeddedQueue  # noqa: E402
from helios.ports.queue import MessageAttributes, OutgoingMessage  # noqa: E402

BODY = b"x" * 4096


def _message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        body=BODY, attributes=MessageAttributes(tenant="t", correlation_id=str(n), kind="bench")
    )


async def _ms_per_ask(ask: Callable[[], Awaitable[object]], asks: int) -> float:
    taken = []
    for _ in range(asks):
        began = time.perf_counter()
        await ask()
        taken.append(time.perf_counter() - began)
    return statistics.median(taken) * 1000


def _raw_count(conn: sqlite3.Connection) -> int:
    (count,) = conn.execute(
        "SELECT count(*) FROM queue_messages WHERE queue = 'ingest' AND dead_at_ms IS NULL"
    ).fetchone()
    return int(count)


async def one(waiting: int, asks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="helios-bench-depth-") as tmp:
        path, intake = Path(tmp) / "queue.db", Path(tmp) / "intake.db"
        raw = sqlite3.connect(path, check_same_thread=False)
        async with EmbeddedQueue(path=path, intake_path=intake, min_free_bytes=0) as queue:
            for start in range(0, waiting, 100):
                await queue.send([_message(n) for n in range(start, min(waiting, start + 100))])
            # Half moved into the queue's file (received, in flight), half still in the intake.
            await queue.receive(max_messages=10, wait_seconds=0, visibility_timeout_s=600)
            while await asyncio.to_thread(_raw_count, raw) < waiting // 2:
                await queue.receive(max_messages=10, wait_seconds=0, visibility_timeout_s=600)
            assert await queue.depth() == waiting == (await queue.backlog()).depth
            taken = {
                "depth": await _ms_per_ask(queue.depth, asks),
                "backlog": await _ms_per_ask(queue.backlog, asks),
                "sqlite3 count": await _ms_per_ask(
                    lambda: asyncio.to_thread(_raw_count, raw), asks
                ),
            }
        raw.close()
        return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--asks", type=int, default=50)
    args = parser.parse_args()
    print("messages waiting   depth() ms   backlog() ms   sqlite3 count ms   depth/sqlite3")
    for waiting in args.waiting:
        taken = asyncio.run(one(waiting, args.asks))
        print(
            f"{waiting:>16,}   {taken['depth']:>10.3f}   {taken['backlog']:>12.3f}"
            f"   {taken['sqlite3 count']:>16.3f}   {taken['depth'] / taken['sqlite3 count']:>13.2f}"
        )


if __name__ == "__main__":
    main()
