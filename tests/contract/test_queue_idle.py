"""What an idle consumer of the embedded queue costs: polling a file where nothing happens takes
no write lock and runs no checkpoint, yet what another process sends is still received, and
what an ended instance held is still taken back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from helios.adapters import embedded_queue
from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqlite_thread import LOCK_TIMES
from helios.ports.queue import MessageAttributes, OutgoingMessage

ATTRIBUTES = MessageAttributes(tenant="tenant-a", correlation_id="corr-1", kind="test.v1")
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Traced(EmbeddedQueue):
    """The embedded queue, with every statement its connection runs recorded."""

    def __init__(self, **kwargs: object) -> None:
        self.statements: list[str] = []
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _prepare(self, conn: sqlite3.Connection) -> None:
        super()._prepare(conn)
        conn.set_trace_callback(self.statements.append)


def _messages(count: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(body=b"m%d" % n, attributes=ATTRIBUTES) for n in range(count)]


async def _idle_receives(queue: EmbeddedQueue, times: int) -> None:
    for _ in range(times):
        assert await queue.receive(max_messages=2_000, wait_seconds=0) == []
        await asyncio.sleep(0.003)  # past the reclaim interval of the queues below


@pytest.mark.anyio
async def test_an_idle_consumer_takes_no_write_lock_when_no_instance_ended(
    tmp_path: Path,
) -> None:
    async with EmbeddedQueue(path=tmp_path / "queue.db", reclaim_interval_s=0.001) as queue:
        await _idle_receives(queue, 1)  # the first receive takes back whatever was held
        before = LOCK_TIMES["receive"].transactions

        await _idle_receives(queue, 20)

        assert LOCK_TIMES["receive"].transactions == before


@pytest.mark.anyio
async def test_an_idle_consumer_checkpoints_a_wal_once_and_again_only_after_a_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    queue = _Traced(path=path, reclaim_interval_s=0.001, checkpoint_interval_s=0.001)
    async with queue:
        await queue.send(_messages(10))
        await queue.delete(await queue.receive(max_messages=10, wait_seconds=0))
        queue.statements.clear()

        await _idle_receives(queue, 20)
        assert queue.statements.count(CHECKPOINT) == 1

        other = sqlite3.connect(path, isolation_level=None)  # another process's send
        try:
            other.execute("INSERT INTO queue_dedup VALUES ('other', 'x', 0)")
        finally:
            other.close()
        await _idle_receives(queue, 20)
        assert queue.statements.count(CHECKPOINT) == 2


@pytest.mark.anyio
async def test_an_idle_consumer_still_receives_what_another_process_sends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    async with (
        EmbeddedQueue(path=path, reclaim_interval_s=0.001) as consumer,
        EmbeddedQueue(path=path) as sender,
    ):
        await _idle_receives(consumer, 5)
        await sender.send(_messages(3))

        received = await consumer.receive(max_messages=2_000, wait_seconds=1)

        assert sorted(m.body for m in received) == [b"m0", b"m1", b"m2"]
        assert len({m.receipt for m in received}) == 3


LOOK = "SELECT 1 FROM queue_messages"


@pytest.mark.anyio
async def test_a_waiting_receive_looks_at_an_unchanged_file_about_once_a_second(
    tmp_path: Path,
) -> None:
    queue = _Traced(path=tmp_path / "queue.db", reclaim_interval_s=3600)
    async with queue:
        await _idle_receives(queue, 1)
        queue.statements.clear()

        assert await queue.receive(max_messages=10, wait_seconds=2.5) == []

        # Polled every 0.1 s, it used to look 25 times.
        assert 2 <= sum(statement.startswith(LOOK) for statement in queue.statements) <= 5


async def _a_waiting_receive_sees_a_send_of_another_instance(path: Path) -> None:
    """A receive waiting 30 s, its next look a minute away, gets what another instance of
    the file sends 0.3 s in, well before the end of its wait."""
    async with (
        EmbeddedQueue(path=path, reclaim_interval_s=3600, look_again_s=60) as consumer,
        EmbeddedQueue(path=path) as sender,
    ):
        await _idle_receives(consumer, 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = asyncio.create_task(consumer.receive(max_messages=10, wait_seconds=30))
        await asyncio.sleep(0.3)
        await sender.send(_messages(1))

        received = await waiting

        assert [m.body for m in received] == [b"m0"]
        assert loop.time() - started < 20  # not at the end of its wait


@pytest.mark.anyio
async def test_a_waiting_receive_sees_another_process_send_without_waiting_for_its_next_look(
    tmp_path: Path,
) -> None:
    await _a_waiting_receive_sees_a_send_of_another_instance(tmp_path / "queue.db")


@pytest.mark.anyio
async def test_a_waiting_receive_sees_a_commit_that_leaves_the_wal_files_size_and_time_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit writes its frames to the WAL, then publishes them in the WAL index once synced:
    a look in between sees nothing, and the WAL file does not change again (here it never
    seems to, as with a restarted WAL rewritten within one tick of the file clock)."""
    monkeypatch.setattr(embedded_queue, "_wal_stat", lambda path: (4096, 1))
    await _a_waiting_receive_sees_a_send_of_another_instance(tmp_path / "queue.db")
