"""How little the embedded queue's consumer holds the file's write lock, and its WAL's bound.

The API's durable sends wait for that lock: a receive that finds nothing does not take it,
concurrent deletes share one transaction, and no commit runs a checkpoint (receives do, and
keep the WAL under ``wal_limit_bytes``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqlite_thread import LOCK_TIMES
from helios.ports.queue import MessageAttributes, OutgoingMessage

ATTRIBUTES = MessageAttributes(tenant="tenant-a", correlation_id="corr-1", kind="test.v1")
BODY = b"b" * 2000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _messages(count: int, *, tag: str = "m") -> list[OutgoingMessage]:
    return [
        OutgoingMessage(body=f"{tag}{n}".encode() + BODY, attributes=ATTRIBUTES)
        for n in range(count)
    ]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@pytest.mark.anyio
async def test_a_receive_that_finds_nothing_does_not_wait_for_the_write_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path, busy_timeout_s=1.0, reclaim_interval_s=3600) as queue:
        assert await queue.receive(max_messages=10, wait_seconds=0) == []
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process's write, held
            started = time.monotonic()
            assert await queue.receive(max_messages=10, wait_seconds=0) == []
            assert time.monotonic() - started < 0.5
        finally:
            other.execute("ROLLBACK")
            other.close()


@pytest.mark.anyio
async def test_one_receive_dead_letters_the_spent_messages_and_fills_up_with_the_next(
    tmp_path: Path,
) -> None:
    async with EmbeddedQueue(path=tmp_path / "queue.db", max_receives=1) as queue:
        await queue.send(_messages(5, tag="spent"))
        spent = await queue.receive(max_messages=5, wait_seconds=0, visibility_timeout_s=0)
        assert [m.receive_count for m in spent] == [1] * 5
        await asyncio.sleep(0.01)
        await queue.send(_messages(10, tag="fresh"))
        await asyncio.sleep(0.01)

        received = await queue.receive(max_messages=10, wait_seconds=0)

        assert [m.body[:6] for m in received] == [f"fresh{n}".encode() for n in range(10)]
        assert [m.receive_count for m in received] == [1] * 10
        assert len({m.receipt for m in received}) == 10
        dead = await queue.dead_letters(limit=10)
        assert sorted(m.message_id for m in dead) == sorted(m.message_id for m in spent)
        await queue.delete(received)
        assert await queue.depth() == 0


@pytest.mark.anyio
async def test_concurrent_deletes_share_one_transaction_and_a_stale_receipt_deletes_nothing(
    tmp_path: Path,
) -> None:
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        await queue.send(_messages(40))
        batches = [await queue.receive(max_messages=10, wait_seconds=0) for _ in range(4)]
        stale = await queue.receive(max_messages=1, wait_seconds=0)
        assert stale == []
        LOCK_TIMES.pop("delete", None)

        await asyncio.gather(*(queue.delete(batch) for batch in batches))

        assert LOCK_TIMES["delete"].transactions < len(batches)
        assert await queue.depth() == 0

        await queue.send(_messages(1))
        first = await queue.receive(max_messages=1, wait_seconds=0, visibility_timeout_s=0)
        await asyncio.sleep(0.01)
        again = await queue.receive(max_messages=1, wait_seconds=0)
        await queue.delete(first)  # its receipt was replaced by the second receive
        assert await queue.depth() == 1
        await queue.delete(again)
        assert await queue.depth() == 0


@pytest.mark.anyio
async def test_a_send_commits_without_checkpointing_the_wal_into_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path, min_free_bytes=0) as queue:
        before = _size(path)
        for _ in range(30):  # about 6 MB: past SQLite's automatic checkpoint (1000 pages)
            await queue.send(_messages(100))
        assert _size(path) == before
        assert _size(Path(f"{path}-wal")) > 4_000_000


@pytest.mark.anyio
async def test_the_wal_stays_bounded_under_a_steady_sender_and_a_consumer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    wal = Path(f"{path}-wal")
    limit = 512 * 1024
    largest = 0
    async with (
        # The sender's own bound out of the way: what keeps the WAL small is the consumer.
        EmbeddedQueue(path=path, min_free_bytes=0, wal_limit_bytes=1 << 30) as sender,
        EmbeddedQueue(path=path, min_free_bytes=0, wal_limit_bytes=limit) as consumer,
    ):
        for _ in range(30):  # rounds of about 200 kB sent, then received
            for _ in range(10):
                await sender.send(_messages(10))
                largest = max(largest, _size(wal))
            for _ in range(10):
                await consumer.delete(await consumer.receive(max_messages=10, wait_seconds=0))
        assert await consumer.depth() == 0
    # Past the bound by what a round writes (about 650 kB of WAL), at most; SQLite's own
    # checkpoints would have let it reach 1000 pages (4 MB).
    assert largest < 3 * limit


@pytest.mark.anyio
async def test_a_sender_nobody_receives_from_still_bounds_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    wal = Path(f"{path}-wal")
    limit = 256 * 1024
    largest = 0
    async with EmbeddedQueue(path=path, min_free_bytes=0, wal_limit_bytes=limit) as sender:
        for _ in range(200):
            await sender.send(_messages(10))
            largest = max(largest, _size(wal))
        assert await sender.depth() == 2000
    assert largest < 4 * limit + 64 * 1024  # past four times the bound by one commit at most
    assert os.path.getsize(path) > 2000 * len(BODY)
