"""How much the embedded queue's consumer slows its sender down by holding the write lock.

    python bench/queue_lock.py [--seconds 5] [--senders 32] [--consumers 2] [--intake]

Two processes on one queue file, as ``helios up`` runs its API and its worker: a sender
enqueues messages at full speed (``--senders`` concurrent sends of 10 messages each, which the
queue group-commits durably, as concurrent API requests are), and a consumer receives batches
of 10 and deletes them (``--consumers`` concurrent loops, as the ingest worker and followers
are). The sender runs twice in the same run: alone (the baseline), then with the consumer.

Printed: the sender's accepted messages/s alone and with the consumer, and their ratio; the
sender's wait for the write lock per commit, and the consumer's hold of it per receive and per
delete (timed inside the adapter, ``sqlite_thread.LOCK_TIMES``); the largest size of the WAL
the sender saw.
The ratio, taken in one run, is what to compare between versions on a busy machine.
With ``--intake`` the sender commits to an intake file of its own, which the consumer's
receives move into the queue's file (``embedded_intake``, as ``helios up`` runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from helios.adapters.embedded_queue import EmbeddedQueue  # noqa: E402
from helios.adapters.sqlite_thread import LOCK_TIMES  # noqa: E402
from helios.ports.queue import MessageAttributes, OutgoingMessage  # noqa: E402

BODY = b"x" * 1500
"""About an Alertmanager webhook of 10 alerts, encoded."""


def _message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        body=BODY, attributes=MessageAttributes(tenant="t", correlation_id=str(n), kind="bench")
    )


def _intake(path: str, intake: bool) -> str | None:
    return str(Path(path).with_name("intake.db")) if intake else None


async def _send_for(path: str, seconds: float, senders: int, intake: bool) -> dict[str, float]:
    LOCK_TIMES.clear()
    sent = 0
    wal = Path((_intake(path, intake) or path) + "-wal")
    wal_most = 0
    async with EmbeddedQueue(
        path=path, min_free_bytes=0, intake_path=_intake(path, intake)
    ) as queue:
        stop = time.monotonic() + seconds

        async def one_sender() -> None:
            nonlocal sent
            while time.monotonic() < stop:
                await queue.send([_message(n) for n in range(10)])
                sent += 10
                if sent % 1000 == 0 and wal.exists():
                    nonlocal wal_most
                    wal_most = max(wal_most, wal.stat().st_size)

        started = time.monotonic()
        await asyncio.gather(*(one_sender() for _ in range(senders)))
        elapsed = time.monotonic() - started
    times = LOCK_TIMES["send"]
    return {
        "per_s": sent / elapsed,
        "commits": times.transactions,
        "wait_ms": 1000 * times.wait_s / times.transactions,
        "hold_ms": 1000 * times.hold_s / times.transactions,
        "wal_mb": wal_most / 1e6,
    }


async def _consume(path: str, stop_at: float, consumers: int, intake: bool) -> dict[str, float]:
    received = 0
    async with EmbeddedQueue(
        path=path, min_free_bytes=0, intake_path=_intake(path, intake)
    ) as queue:

        async def one_consumer() -> None:
            nonlocal received
            while time.time() < stop_at:
                batch = await queue.receive(max_messages=10, wait_seconds=0.1)
                received += len(batch)
                await queue.delete(batch)

        await asyncio.gather(*(one_consumer() for _ in range(consumers)))
    out: dict[str, float] = {"received": received}
    for kind in ("receive", "delete"):
        times = LOCK_TIMES.get(kind)
        if times is not None and times.transactions:
            out[f"{kind}s"] = times.transactions
            out[f"{kind}_hold_ms"] = 1000 * times.hold_s / times.transactions
            out[f"{kind}_wait_ms"] = 1000 * times.wait_s / times.transactions
    return out


def _consumer_process(
    path: str, stop_at: float, consumers: int, intake: bool, out: Connection
) -> None:
    out.send(asyncio.run(_consume(path, stop_at, consumers, intake)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--intake", action="store_true", help="senders commit to an intake file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="helios-queue-lock-") as tmp:
        path = os.path.join(tmp, "queue.db")
        alone = asyncio.run(_send_for(path, args.seconds, args.senders, args.intake))
        ours, theirs = multiprocessing.get_context("spawn").Pipe(duplex=False)
        stop_at = time.time() + args.seconds + 3  # the consumer starts first, drains last
        consumer = multiprocessing.get_context("spawn").Process(
            target=_consumer_process, args=(path, stop_at, args.consumers, args.intake, theirs)
        )
        consumer.start()
        time.sleep(1.0)  # let it import and open the file
        shared = asyncio.run(_send_for(path, args.seconds, args.senders, args.intake))
        consumed = ours.recv()
        consumer.join()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"sender alone:         {alone['per_s']:8.0f} msg/s  wait/commit "
        f"{alone['wait_ms']:.3f} ms  hold/commit {alone['hold_ms']:.3f} ms"
    )
    print(
        f"sender with consumer: {shared['per_s']:8.0f} msg/s  wait/commit "
        f"{shared['wait_ms']:.3f} ms  hold/commit {shared['hold_ms']:.3f} ms"
        f"  ({shared['commits']:.0f} commits)"
    )
    print(f"ratio with/alone:     {shared['per_s'] / alone['per_s']:.2f}")
    for kind in ("receive", "delete"):
        if f"{kind}s" in consumed:
            hold, wait = consumed[f"{kind}_hold_ms"], consumed[f"{kind}_wait_ms"]
            count = consumed[f"{kind}s"]
            print(f"consumer {kind}: {count:.0f}  hold {hold:.3f} ms  wait {wait:.3f} ms")
    received, wal_mb = consumed["received"], shared["wal_mb"]
    print(f"consumer received: {received:.0f}   largest WAL seen: {wal_mb:.1f} MB")


if __name__ == "__main__":
    main()
