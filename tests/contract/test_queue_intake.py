"""The embedded queue with an intake file: senders commit to a file of their own.

What ``helios up`` relies on: an API send never waits for the lock of the file the worker
writes; the worker moves accepted messages in once each, in order; the sender trims only what
the queue's file has durably taken; and ``kill -9`` of either process loses nothing accepted.
(The whole queue contract also runs on this configuration: ``test_queue.py``.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore
from helios.ports.idempotency import Replay, Started, StoredResponse
from helios.ports.queue import MessageAttributes, OutgoingMessage, ReceivedMessage, SeenAs

pytestmark = pytest.mark.anyio

ATTRIBUTES = MessageAttributes(tenant="tenant-a", correlation_id="corr-1", kind="test.v1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def message(body: bytes) -> OutgoingMessage:
    return OutgoingMessage(body=body, attributes=ATTRIBUTES)


def intake_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM intake_messages").fetchone()[0])


def wal_checkpoints(wal: Path) -> int:
    """The checkpoint sequence number in a WAL's header: a restarted WAL's is one more."""
    return int.from_bytes(wal.read_bytes()[12:16], "big")


async def drain(queue: EmbeddedQueue) -> list[ReceivedMessage]:
    """Every message the queue delivers now (received for a minute, not deleted)."""
    taken: list[ReceivedMessage] = []
    while batch := await queue.receive(max_messages=10, wait_seconds=0, visibility_timeout_s=60):
        taken.extend(batch)
    return taken


async def test_a_send_is_accepted_while_another_process_holds_the_queue_files_lock(
    tmp_path: Path,
) -> None:
    """The worker's transactions on queue.db hold its write lock; the sender never asks for it."""
    queue_path, intake_path = tmp_path / "queue.db", tmp_path / "intake.db"
    async with EmbeddedQueue(path=queue_path, intake_path=intake_path, busy_timeout_s=5) as queue:
        await queue.send([message(b"first")])
        worker = sqlite3.connect(queue_path, isolation_level=None)
        try:
            worker.execute("BEGIN IMMEDIATE")  # the worker's receive or delete, held
            started = time.monotonic()
            await queue.send([message(b"while-locked")])
            assert time.monotonic() - started < 1.0
        finally:
            worker.execute("ROLLBACK")
            worker.close()
        assert intake_rows(intake_path) == 2
        assert sorted(m.body for m in await drain(queue)) == [b"first", b"while-locked"]


async def test_messages_move_in_once_in_the_order_they_were_accepted(tmp_path: Path) -> None:
    """Two consumers on the same files: each message is delivered to one of them, once."""
    paths = {"path": tmp_path / "queue.db", "intake_path": tmp_path / "intake.db"}
    async with EmbeddedQueue(**paths) as sender:
        for n in range(30):
            await sender.send([message(b"%02d" % n)])
    async with EmbeddedQueue(**paths) as one, EmbeddedQueue(**paths) as two:
        got = await asyncio.gather(drain(one), drain(two))
    everything = [m.body for batch in got for m in batch]
    assert sorted(everything) == [b"%02d" % n for n in range(30)]
    for batch in got:
        bodies = [m.body for m in batch]
        assert bodies == sorted(bodies)


async def test_the_sender_trims_only_what_the_queue_file_has_taken_in(tmp_path: Path) -> None:
    """Rows stay in the intake until a receive has moved them; a later send deletes them."""
    intake_path = tmp_path / "intake.db"
    now = [time.time()]

    def clock() -> float:
        now[0] += 1.0  # a sender looks at the position a few times a second
        return now[0]

    async with EmbeddedQueue(
        path=tmp_path / "queue.db", intake_path=intake_path, clock=clock
    ) as queue:
        await queue.send([message(b"a"), message(b"b")])
        await queue.send([message(b"c")])
        assert intake_rows(intake_path) == 3
        assert len(await drain(queue)) == 3
        assert intake_rows(intake_path) == 3  # moved in; trimmed by the next send
        await queue.send([message(b"d")])
        assert intake_rows(intake_path) == 1
        assert [m.body for m in await drain(queue)] == [b"d"]
        assert await queue.depth() == 4


async def test_the_depth_counts_a_message_once_while_a_receive_moves_it_in(
    tmp_path: Path,
) -> None:
    """A receive between the depth's look at the queue's file and at the intake's is no gap."""
    paths = {"path": tmp_path / "queue.db", "intake_path": tmp_path / "intake.db"}
    async with EmbeddedQueue(**paths) as queue:
        await queue.send([message(b"%d" % n) for n in range(5)])
        depth, received = await asyncio.gather(
            queue.depth(),
            queue.receive(max_messages=10, wait_seconds=0, visibility_timeout_s=60),
        )
        assert len(received) == 5
        assert depth == 5
        assert (await queue.backlog()).depth == 5


async def test_a_fresh_intake_file_is_read_from_its_start(tmp_path: Path) -> None:
    """A deleted intake file's position does not hide the messages of the new one."""
    queue_path, intake_path = tmp_path / "queue.db", tmp_path / "intake.db"
    async with EmbeddedQueue(path=queue_path, intake_path=intake_path) as queue:
        await queue.send([message(b"old-1"), message(b"old-2")])
        await queue.delete(await drain(queue))
    for leftover in tmp_path.glob("intake.db*"):
        leftover.unlink()
    async with EmbeddedQueue(path=queue_path, intake_path=intake_path) as queue:
        await queue.send([message(b"new")])
        assert [m.body for m in await drain(queue)] == [b"new"]


async def test_a_repeat_is_refused_by_the_intake_in_the_commit_that_enqueues(
    tmp_path: Path,
) -> None:
    """``send_once`` keeps its fingerprints in the intake, beside the message."""
    now = int(time.time() * 1000)
    seen = SeenAs(scope="body:tenant-a/int-1", fingerprint="f1", window_ms=10_000)
    paths = {"path": tmp_path / "queue.db", "intake_path": tmp_path / "intake.db"}
    async with EmbeddedQueue(**paths) as api, EmbeddedQueue(**paths) as other_api:
        assert await api.send_once(message(b"first"), seen_as=seen, now_ms=now)
        assert not await other_api.send_once(message(b"again"), seen_as=seen, now_ms=now + 1)
        assert [m.body for m in await drain(api)] == [b"first"]


async def test_what_senders_remembered_in_the_queue_file_before_intake_files_still_holds(
    tmp_path: Path,
) -> None:
    """A file from before intake files kept fingerprints and idempotency keys beside the
    messages: a retry across the upgrade is still refused, and a key still replays its
    answer, once the intake file exists."""
    now = int(time.time() * 1000)
    queue_path, intake_path = tmp_path / "queue.db", tmp_path / "intake.db"
    seen = SeenAs(scope="body:tenant-a/int-1", fingerprint="f1", window_ms=60_000)
    expired = SeenAs(scope="body:tenant-a/int-1", fingerprint="f0", window_ms=1)
    answer = StoredResponse(status=202, body=b'{"accepted":1}', headers=(("x-a", "1"),))
    key = {"scope": "tenant-a", "key": "retry-1", "fingerprint": "body-1"}
    async with EmbeddedQueue(path=queue_path) as before:
        assert await before.send_once(message(b"first"), seen_as=seen, now_ms=now)
        assert await before.send_once(message(b"old"), seen_as=expired, now_ms=now - 10)
    async with SqliteIdempotencyStore(path=queue_path) as keys_before:
        assert await keys_before.begin(**key, now_ms=now) == Started()
        await keys_before.complete(**key, response=answer, now_ms=now)

    async with (
        EmbeddedQueue(path=queue_path, intake_path=intake_path) as after,
        SqliteIdempotencyStore(path=intake_path) as keys_after,
    ):
        assert not await after.send_once(message(b"retry"), seen_as=seen, now_ms=now + 5)
        assert await after.send_once(message(b"new again"), seen_as=expired, now_ms=now + 5)
        assert await keys_after.begin(**key, now_ms=now + 5) == Replay(answer)
        assert [m.body for m in await drain(after)] == [b"first", b"old", b"new again"]


_SENDER = """
import asyncio, sys
from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore
from helios.ports.idempotency import Replay, Started, StoredResponse
from helios.ports.queue import MessageAttributes, OutgoingMessage

async def main():
    attributes = MessageAttributes(tenant="t", correlation_id="c", kind="k")
    async with EmbeddedQueue(path={queue!r}, intake_path={intake!r}) as queue:
        for n in range(100_000):
            await queue.send([OutgoingMessage(body=b"m%06d" % n, attributes=attributes)])
            print(n, flush=True)

asyncio.run(main())
"""

_CONSUMER = """
import asyncio
from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore
from helios.ports.idempotency import Replay, Started, StoredResponse

async def main():
    async with EmbeddedQueue(path={queue!r}, intake_path={intake!r}) as queue:
        while True:
            await queue.receive(max_messages=10, wait_seconds=0.05, visibility_timeout_s=600)

asyncio.run(main())
"""


async def test_kill_9_of_the_sender_and_of_the_consumer_loses_and_doubles_nothing_accepted(
    tmp_path: Path,
) -> None:
    """A sender and a consumer run in their own processes, then both are SIGKILLed at once:
    every acknowledged message is on the queue, once."""
    files = {"queue": str(tmp_path / "queue.db"), "intake": str(tmp_path / "intake.db")}
    consumer = subprocess.Popen([sys.executable, "-c", _CONSUMER.format(**files)])
    sender = subprocess.Popen(
        [sys.executable, "-c", _SENDER.format(**files)], stdout=subprocess.PIPE
    )
    try:
        await asyncio.sleep(2.5)
    finally:
        for process in (sender, consumer):
            os.kill(process.pid, signal.SIGKILL)
    out, _ = sender.communicate(timeout=30)
    consumer.wait(timeout=30)
    acknowledged = {b"m%06d" % int(line) for line in out.split()}
    assert len(acknowledged) > 20

    async with EmbeddedQueue(path=files["queue"], intake_path=files["intake"]) as restarted:
        got = [m.body for m in await drain(restarted)]
    assert len(got) == len(set(got))
    assert acknowledged <= set(got)
    # (Not in order: what the killed consumer held is visible again from the restart on,
    # after what it had not received yet, as any redelivery is.)


async def test_past_its_bound_the_intakes_wal_is_started_over_not_emptied(
    tmp_path: Path,
) -> None:
    """A WAL cut to nothing grows again under every commit, and each growing commit's
    ``fdatasync`` also commits the file system's journal: the consumer restarts it instead,
    its file kept, and nothing accepted is lost or delivered twice."""
    limit = 256 * 1024
    wal = Path(f"{tmp_path / 'intake.db'}-wal")
    paths = {"path": tmp_path / "queue.db", "intake_path": tmp_path / "intake.db"}
    async with (
        EmbeddedQueue(**paths, min_free_bytes=0, wal_limit_bytes=limit) as sender,
        EmbeddedQueue(**paths, min_free_bytes=0, wal_limit_bytes=limit) as consumer,
    ):
        sent = [b"%d-" % n + b"x" * 4000 for n in range(150)]  # about 600 kB of WAL
        for start in range(0, len(sent), 10):
            await sender.send([message(body) for body in sent[start : start + 10]])
        assert wal.stat().st_size > limit
        before = wal_checkpoints(wal)
        received = await drain(consumer)  # moves them in; its checkpoint finds the WAL over
        await sender.send([message(b"after")])
        # Written again from its start (a new header) in a file not cut below the bound.
        assert wal_checkpoints(wal) > before
        assert wal.stat().st_size >= limit
        received += await drain(consumer)
    assert sorted(m.body for m in received) == sorted([*sent, b"after"])
