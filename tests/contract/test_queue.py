"""The queue contract, run against every adapter: the embedded SQLite queue and SQS.

SQS runs against the SQS-compatible server named by ``HELIOS_TEST_SQS_URL`` (the shared
``sqs_endpoint`` fixture: skipped when unset, failed with ``HELIOS_REQUIRE_SERVICES=1``); each
test gets its own queues (the server is shared and slows down as queues grow deep) and deletes them.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqs import (
    FileBlobStore,
    MemoryBlobStore,
    SqsQueue,
    SqsSettings,
    create_queues,
    delete_queues,
    sqs_client,
)
from helios.adapters.sqs.batching import split_batches
from helios.apps.application import envelopes as queue_codec
from helios.domain.values import Envelope, SourceKind
from helios.ports.queue import (
    BlobNotFound,
    MessageAttributes,
    OutgoingMessage,
    Queue,
    QueueUnavailable,
    ReceivedMessage,
)
from sqlite_locks import write_lock_held

ATTRIBUTES = MessageAttributes(tenant="tenant-a", correlation_id="corr-1", kind="test.v1")
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def blobs() -> MemoryBlobStore:
    """Where the SQS adapter puts oversized payloads (the embedded queue needs none)."""
    return MemoryBlobStore()


@pytest.fixture(params=["embedded", "embedded-intake", pytest.param("sqs", marks=pytest.mark.sqs)])
async def queue(
    request: pytest.FixtureRequest, tmp_path: Path, aws_env: None, blobs: MemoryBlobStore
) -> AsyncIterator[Queue]:
    if request.param.startswith("embedded"):
        intake = tmp_path / "intake.db" if request.param == "embedded-intake" else None
        async with EmbeddedQueue(
            path=tmp_path / "queue.db", poll_interval_s=0.05, intake_path=intake
        ) as embedded:
            yield embedded
        return
    # Asked for here only, so that a missing server skips (or fails) the SQS case alone.
    endpoint = request.getfixturevalue("sqs_endpoint")
    settings = SqsSettings(endpoint_url=endpoint, max_attempts=2)
    async with sqs_client(settings) as client:
        urls = await create_queues(client, prefix=f"t{uuid.uuid4().hex[:12]}-helios-")
        try:
            yield SqsQueue(
                client=client,
                queue_url=urls.main,
                dead_letter_url=urls.dead_letter,
                blob_store=blobs,
                redrive_wait_s=0,
            )
        finally:
            await delete_queues(client, urls)


def message(body: bytes, attributes: MessageAttributes = ATTRIBUTES) -> OutgoingMessage:
    return OutgoingMessage(body=body, attributes=attributes)


async def take(queue: Queue, count: int, *, timeout_s: float = 10.0) -> list[ReceivedMessage]:
    """Receive until ``count`` messages arrived (or time is up), deleting none."""
    taken: list[ReceivedMessage] = []
    deadline = time.monotonic() + timeout_s
    while len(taken) < count and time.monotonic() < deadline:
        taken.extend(
            await queue.receive(
                max_messages=min(10, count - len(taken)), wait_seconds=1, visibility_timeout_s=30
            )
        )
    return taken


def bodies(messages: Sequence[ReceivedMessage]) -> list[bytes]:
    return sorted(m.body for m in messages)


@pytest.mark.anyio
async def test_a_sent_message_comes_back_with_its_attributes_until_deleted(queue: Queue) -> None:
    """Body bytes (binary included) and attributes survive; delete acknowledges."""
    body = b"\x00\xff binary \r\n" + "é".encode()
    await queue.send([message(body)])
    assert await queue.depth() == 1

    [got] = await take(queue, 1)

    assert got.body == body
    assert got.attributes == ATTRIBUTES
    assert got.receive_count == 1
    await queue.delete([got])
    assert await queue.depth() == 0
    assert await queue.receive(max_messages=10, wait_seconds=0) == []


@pytest.mark.anyio
async def test_an_envelope_survives_the_queue(queue: Queue) -> None:
    """The codec's envelope message round-trips, with tenant and correlation id as attributes."""
    envelope = Envelope(
        ingest_id="01J0000000000000000000000A",
        tenant="tenant-b",
        integration="am-prod",
        source=SourceKind.ALERTMANAGER,
        received_at=1_732_670_000_000,
        body=b'{"status":"firing","alerts":[]}',
        headers=(("User-Agent", "Alertmanager/0.25.0"),),
    )
    await queue.send([queue_codec.envelope_message(envelope, correlation_id="req-9")])

    [got] = await take(queue, 1)

    assert queue_codec.decode_envelope(got.body) == envelope
    assert got.attributes == MessageAttributes(
        tenant="tenant-b", correlation_id="req-9", kind=queue_codec.ENVELOPE_KIND
    )


@pytest.mark.anyio
async def test_more_than_ten_messages_are_all_delivered(queue: Queue) -> None:
    """A send of 23 messages is split into batches of at most 10, none lost."""
    sent = [f"message {n}".encode() for n in range(23)]
    await queue.send([message(body) for body in sent])

    got = await take(queue, 23)

    assert bodies(got) == sorted(sent)
    if isinstance(queue, SqsQueue):
        assert queue.api_calls["SendMessageBatch"] == 3


@pytest.mark.anyio
async def test_concurrent_sends_are_all_accepted(queue: Queue) -> None:
    """Twenty tasks sending at once (the API under load) lose nothing."""
    sent = [f"concurrent {n}".encode() for n in range(20)]
    async with anyio.create_task_group() as tasks:
        for body in sent:
            tasks.start_soon(queue.send, [message(body)])

    assert bodies(await take(queue, 20)) == sorted(sent)


@pytest.mark.anyio
async def test_a_send_above_the_batch_byte_limit_is_split_and_delivered(queue: Queue) -> None:
    """Ten 60 KB incompressible messages (80 KB framed each) exceed 256 KiB per batch."""
    sent = [os.urandom(60_000) for _ in range(10)]
    await queue.send([message(body) for body in sent])

    got = await take(queue, 10)

    assert bodies(got) == sorted(sent)
    if isinstance(queue, SqsQueue):
        assert queue.api_calls["SendMessageBatch"] == 4


@pytest.mark.anyio
async def test_an_oversized_envelope_round_trips_and_its_payload_is_cleaned_up(
    queue: Queue, blobs: MemoryBlobStore
) -> None:
    """A 400 KiB envelope (above the SQS message limit) arrives whole and leaves nothing."""
    envelope = Envelope(
        ingest_id="01J0000000000000000000000B",
        tenant="tenant-a",
        integration="generic",
        source=SourceKind.GENERIC,
        received_at=1,
        body=os.urandom(400 * 1024),
        content_type="application/octet-stream",
    )
    await queue.send([queue_codec.envelope_message(envelope, correlation_id="big")])

    [got] = await take(queue, 1)

    assert queue_codec.decode_envelope(got.body) == envelope
    if isinstance(queue, SqsQueue):
        assert got.payload_ref is not None
        assert blobs.keys() == {got.payload_ref}
    await queue.delete([got])
    assert blobs.keys() == frozenset()


@pytest.mark.anyio
async def test_an_undeleted_message_is_delivered_again_after_its_visibility_timeout(
    queue: Queue,
) -> None:
    """Invisible while in flight; redelivered with receive_count 2 once the timeout passes."""
    await queue.send([message(b"retry me")])
    [first] = await queue.receive(max_messages=1, wait_seconds=5, visibility_timeout_s=1)

    assert await queue.receive(max_messages=1, wait_seconds=0) == []
    [again] = await queue.receive(max_messages=1, wait_seconds=4, visibility_timeout_s=30)

    assert again.message_id == first.message_id
    assert again.body == b"retry me"
    assert again.receive_count == 2
    assert again.receipt != first.receipt


@pytest.mark.anyio
async def test_extend_visibility_keeps_a_message_hidden_longer(queue: Queue) -> None:
    """A 1 s timeout extended to 5 s: still hidden after 2 s, back after that (margins of
    a second and more either way, for a machine that stalls a test now and then)."""
    await queue.send([message(b"slow work")])
    [first] = await queue.receive(max_messages=1, wait_seconds=5, visibility_timeout_s=1)

    await queue.extend_visibility([first], 5)
    await anyio.sleep(2)

    assert await queue.receive(max_messages=1, wait_seconds=0) == []
    [again] = await queue.receive(max_messages=1, wait_seconds=8, visibility_timeout_s=30)
    assert again.message_id == first.message_id


@pytest.mark.anyio
async def test_a_message_received_three_times_is_dead_lettered_and_redrive_brings_it_back(
    queue: Queue,
) -> None:
    """After 3 receives without delete the 4th finds it in the DLQ; redrive restores it."""
    await queue.send([message(b"poison"), message(b"also poison")])
    for attempt in range(1, 4):
        got = await queue.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=0)
        assert sorted(m.receive_count for m in got) == [attempt, attempt]

    # Dead-lettering happens on the next receive (as in SQS); give it time to look.
    assert await queue.receive(max_messages=10, wait_seconds=0.5) == []
    dead = await queue.dead_letters(limit=10)
    assert bodies(dead) == [b"also poison", b"poison"]
    assert all(m.attributes == ATTRIBUTES for m in dead)
    assert await queue.depth() == 0

    poison = next(m for m in dead if m.body == b"poison")
    assert await queue.redrive([poison.message_id]) == 1
    assert bodies(await queue.dead_letters(limit=10)) == [b"also poison"]
    [back] = await take(queue, 1)
    assert back.body == b"poison"
    assert back.attributes == ATTRIBUTES
    assert back.receive_count == 1

    assert await queue.redrive("all") == 1
    assert await queue.dead_letters(limit=10) == []
    assert [m.body for m in await take(queue, 1)] == [b"also poison"]


@pytest.mark.anyio
async def test_a_purged_dead_letter_is_gone_and_the_others_stay(queue: Queue) -> None:
    """Purging names dead letters; a live message's id is not purged."""
    await queue.send([message(b"poison"), message(b"also poison")])
    for _ in range(3):
        await queue.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=0)
    assert await queue.receive(max_messages=10, wait_seconds=0.5) == []
    await queue.send([message(b"alive")])
    dead = await queue.dead_letters(limit=10)
    poison = next(m for m in dead if m.body == b"poison")

    assert await queue.purge_dead_letters([poison.message_id, "no-such-id"]) == 1
    assert bodies(await queue.dead_letters(limit=10)) == [b"also poison"]
    assert await queue.purge_dead_letters([]) == 0
    assert [m.body for m in await take(queue, 1)] == [b"alive"]


@pytest.mark.anyio
async def test_the_backlog_counts_waiting_messages_and_dead_letters(queue: Queue) -> None:
    """What /metrics exports: depth (in flight included), the oldest's age, dead letters."""
    empty = await queue.backlog()
    assert (empty.depth, empty.dead_letters, empty.oldest_age_s) == (0, 0, None)

    await queue.send([message(b"first"), message(b"second"), message(b"poison")])
    backlog = await queue.backlog()
    assert backlog.depth == 3 == await queue.depth()
    assert backlog.dead_letters == 0
    assert backlog.oldest_age_s is None or backlog.oldest_age_s >= 0

    first = await queue.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=0)
    assert sorted(m.body for m in first) == [b"first", b"poison", b"second"]
    await queue.delete([m for m in first if m.body != b"poison"])
    for _ in range(2):  # the poison message is received three times and never deleted
        assert bodies(
            await queue.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=0)
        ) == [b"poison"]
    # Dead-lettering happens on the next receive (as in SQS).
    assert await queue.receive(max_messages=10, wait_seconds=0.5, visibility_timeout_s=0) == []
    drained = await queue.backlog()
    assert (drained.depth, drained.dead_letters) == (0, 1)
    assert await queue.depth() == 0  # a dead letter is not waiting


@pytest.mark.anyio
async def test_a_waiting_receive_returns_as_soon_as_a_message_arrives(queue: Queue) -> None:
    """Long polling: a receive waiting 5 s returns well before when a send lands."""
    got: list[ReceivedMessage] = []

    async def receive() -> None:
        got.extend(await queue.receive(max_messages=1, wait_seconds=5))

    started = time.monotonic()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(receive)
        await anyio.sleep(0.3)
        await queue.send([message(b"wake up")])

    assert [m.body for m in got] == [b"wake up"]
    assert time.monotonic() - started < 3


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
@pytest.mark.parametrize("adapter", ["embedded", "sqs"])
async def test_an_unreachable_queue_raises_queue_unavailable(
    adapter: str, tmp_path: Path, aws_env: None
) -> None:
    """A closed port (SQS) or an unopenable file (embedded) fails fast with the typed error."""
    started = time.monotonic()
    if adapter == "embedded":
        broken = EmbeddedQueue(path=tmp_path / "missing-dir" / "queue.db")
        with pytest.raises(QueueUnavailable):
            await broken.send([message(b"lost?")])
        with pytest.raises(QueueUnavailable):
            await broken.receive(max_messages=1, wait_seconds=0)
        with pytest.raises(QueueUnavailable):
            await broken.check_ready()
        await broken.close()
    else:
        settings = SqsSettings(
            endpoint_url=f"http://127.0.0.1:{closed_port()}", max_attempts=1, connect_timeout_s=1
        )
        async with sqs_client(settings) as client:
            url = f"{settings.endpoint_url}/123456789012/helios-ingest"
            sqs = SqsQueue(
                client=client, queue_url=url, dead_letter_url=url, blob_store=MemoryBlobStore()
            )
            with pytest.raises(QueueUnavailable):
                await sqs.send([message(b"lost?")])
            with pytest.raises(QueueUnavailable):
                await sqs.receive(max_messages=1, wait_seconds=0)
            with pytest.raises(QueueUnavailable):
                await sqs.check_ready()
            assert sqs.api_calls == {
                "SendMessageBatch": 1,
                "ReceiveMessage": 1,
                "GetQueueAttributes": 1,
            }
    assert time.monotonic() - started < 5


@pytest.mark.anyio
async def test_the_embedded_queue_keeps_an_accepted_message_across_kill_9(
    tmp_path: Path,
) -> None:
    """A process that sends and is then SIGKILLed leaves the message in the file."""
    path = tmp_path / "queue.db"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from helios.adapters.embedded_queue import EmbeddedQueue
        from helios.ports.queue import MessageAttributes, OutgoingMessage

        async def main():
            queue = EmbeddedQueue(path={str(path)!r})
            attributes = MessageAttributes(tenant="t", correlation_id="c", kind="k")
            await queue.send([OutgoingMessage(body=b"accepted", attributes=attributes)])
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=30)
    assert done.returncode == -9

    async with EmbeddedQueue(path=path) as queue:
        got = await queue.receive(max_messages=10, wait_seconds=1)
    assert [m.body for m in got] == [b"accepted"]


@pytest.mark.anyio
async def test_messages_a_killed_process_held_are_delivered_at_once_by_the_next_instance(
    tmp_path: Path,
) -> None:
    """kill -9 with two messages received for 60 s: a restarted queue delivers them now."""
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path) as queue:
        await queue.send([message(body) for body in (b"held-1", b"held-2", b"waiting")])
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from helios.adapters.embedded_queue import EmbeddedQueue

        async def main():
            queue = EmbeddedQueue(path={str(path)!r})
            got = await queue.receive(max_messages=2, wait_seconds=1, visibility_timeout_s=60)
            print(*(m.body.decode() for m in got), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, timeout=30, capture_output=True
    )
    assert done.returncode == -9
    assert done.stdout.split() == [b"held-1", b"held-2"]

    async with EmbeddedQueue(path=path) as restarted:
        got = await restarted.receive(max_messages=10, wait_seconds=0)
    assert bodies(got) == [b"held-1", b"held-2", b"waiting"]
    assert {m.body: m.receive_count for m in got}[b"held-1"] == 2
    assert not list((tmp_path / "queue.db-owners").glob("*.lock"))


@pytest.mark.anyio
async def test_a_running_consumer_takes_back_what_a_killed_process_held_within_a_second(
    tmp_path: Path,
) -> None:
    """Another process receives for 60 s and is SIGKILLed; a live instance, which has
    received before, gets those messages again without a restart."""
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path, poll_interval_s=0.05) as survivor:
        assert await survivor.receive(max_messages=1, wait_seconds=0) == []
        await survivor.send([message(body) for body in (b"held-1", b"held-2")])
        script = textwrap.dedent(
            f"""
            import asyncio, os, signal
            from helios.adapters.embedded_queue import EmbeddedQueue

            async def main():
                queue = EmbeddedQueue(path={str(path)!r})
                got = await queue.receive(max_messages=2, wait_seconds=1, visibility_timeout_s=60)
                print(*(m.body.decode() for m in got), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

            asyncio.run(main())
            """
        )
        done = await anyio.run_process(
            [sys.executable, "-c", script], check=False, stderr=subprocess.PIPE
        )
        assert done.returncode == -9
        assert done.stdout.split() == [b"held-1", b"held-2"]
        started = time.monotonic()
        got: list[ReceivedMessage] = []
        while len(got) < 2 and time.monotonic() - started < 5:
            got.extend(await survivor.receive(max_messages=10, wait_seconds=0.5))
    assert bodies(got) == [b"held-1", b"held-2"]
    assert time.monotonic() - started < 3
    assert not list((tmp_path / "queue.db-owners").glob("*.lock"))


@pytest.mark.anyio
async def test_an_embedded_queue_opens_a_fresh_file_while_another_process_creates_it(
    tmp_path: Path,
) -> None:
    """Switching a fresh file to WAL waits for another opener's write lock, like any write."""
    path = tmp_path / "queue.db"
    with write_lock_held(path, for_s=0.5):
        async with EmbeddedQueue(path=path, busy_timeout_s=30) as queue:
            await queue.send([message(b"first")])
            received = await queue.receive(max_messages=1, wait_seconds=0)
    assert [m.body for m in received] == [b"first"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.anyio
async def test_a_queue_file_from_before_receipt_owners_opens_and_delivers(tmp_path: Path) -> None:
    """The owner column is added to an existing file; its messages flow as before."""
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE queue_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " queue TEXT NOT NULL, message_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,"
            " tenant TEXT NOT NULL, correlation_id TEXT NOT NULL, kind TEXT NOT NULL,"
            " sent_at_ms INTEGER NOT NULL, visible_at_ms INTEGER NOT NULL,"
            " receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT, dead_at_ms INTEGER)"
        )
        old.execute(
            "INSERT INTO queue_messages (queue, message_id, body, tenant, correlation_id, kind,"
            " sent_at_ms, visible_at_ms) VALUES ('ingest', 'm-1', x'6f6c64', 't', 'c', 'k', 0, 0)"
        )
    async with EmbeddedQueue(path=path) as queue:
        [got] = await queue.receive(max_messages=10, wait_seconds=0)
        assert got.body == b"old"
        await queue.delete([got])
        assert await queue.depth() == 0


@pytest.mark.anyio
async def test_messages_a_live_instance_holds_stay_hidden_from_a_new_one(tmp_path: Path) -> None:
    """Another instance still running (here, in this process) keeps what it received."""
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path) as holder:
        await holder.send([message(b"busy")])
        [held] = await holder.receive(max_messages=1, wait_seconds=1, visibility_timeout_s=60)
        async with EmbeddedQueue(path=path) as newcomer:
            assert await newcomer.receive(max_messages=10, wait_seconds=0) == []
            await holder.delete([held])
            assert await newcomer.depth() == 0


@pytest.mark.anyio
async def test_embedded_consumers_sharing_a_file_never_get_the_same_message(
    tmp_path: Path,
) -> None:
    """Two queue instances (two connections, as two processes would have) and 6 tasks."""
    path = tmp_path / "queue.db"
    sent = [f"m{n}".encode() for n in range(150)]
    delivered: list[bytes] = []
    async with EmbeddedQueue(path=path) as one, EmbeddedQueue(path=path) as two:
        await one.send([message(body) for body in sent])

        async def consume(queue: EmbeddedQueue) -> None:
            while got := await queue.receive(max_messages=7, wait_seconds=0.2):
                delivered.extend(m.body for m in got)
                await queue.delete(got)

        async with anyio.create_task_group() as tasks:
            for queue in (one, two, one, two, one, two):
                tasks.start_soon(consume, queue)

    assert sorted(delivered) == sorted(sent)


@pytest.mark.anyio
async def test_embedded_consumers_in_two_processes_never_get_the_same_message(
    tmp_path: Path,
) -> None:
    """A consumer in a child process and one here drain the same file without overlap."""
    path = tmp_path / "queue.db"
    sent = [f"m{n}".encode() for n in range(200)]
    script = textwrap.dedent(
        f"""
        import asyncio
        from helios.adapters.embedded_queue import EmbeddedQueue

        async def main():
            async with EmbeddedQueue(path={str(path)!r}) as queue:
                while got := await queue.receive(max_messages=5, wait_seconds=0.5):
                    print(*(m.body.decode() for m in got), flush=True)
                    await queue.delete(got)

        asyncio.run(main())
        """
    )
    here: list[bytes] = []
    output: list[bytes] = []
    child_started = anyio.Event()

    async def read_child(stream: AsyncIterator[bytes]) -> None:
        async for chunk in stream:
            output.append(chunk)
            child_started.set()

    async with EmbeddedQueue(path=path) as queue:
        await queue.send([message(body) for body in sent])
        async with (
            await anyio.open_process([sys.executable, "-c", script]) as child,
            anyio.create_task_group() as tasks,
        ):
            assert child.stdout is not None
            tasks.start_soon(read_child, child.stdout)
            with anyio.fail_after(20):
                await child_started.wait()
            while got := await queue.receive(max_messages=5, wait_seconds=0.5):
                here.extend(m.body for m in got)
                await queue.delete(got)
            assert await child.wait() == 0
    there = [word.encode() for word in b"".join(output).decode().split()]

    assert there, "the child process received nothing"
    assert sorted(here + there) == sorted(sent)


@pytest.mark.anyio
async def test_a_queue_that_can_take_a_message_is_ready(queue: Queue) -> None:
    """check_ready returns, and proves nothing by enqueuing: the queue stays empty."""
    await queue.check_ready()
    assert await queue.depth() == 0


@pytest.mark.anyio
async def test_an_embedded_queue_below_its_free_space_reserve_is_not_ready_and_takes_nothing(
    tmp_path: Path,
) -> None:
    """Readiness and send agree; what was already accepted can still be received."""
    path = tmp_path / "queue.db"
    async with EmbeddedQueue(path=path) as roomy:
        await roomy.send([message(b"accepted before")])
    async with EmbeddedQueue(path=path, min_free_bytes=1 << 62) as cramped:
        with pytest.raises(QueueUnavailable, match="reserve"):
            await cramped.check_ready()
        with pytest.raises(QueueUnavailable, match="reserve"):
            await cramped.send([message(b"refused")])
        assert bodies(await take(cramped, 1)) == [b"accepted before"]


@pytest.mark.anyio
async def test_the_embedded_queue_drops_a_repeated_deduplication_id(tmp_path: Path) -> None:
    """Within the window, a second message with the same deduplication id is not enqueued."""
    async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
        first = OutgoingMessage(body=b"1", attributes=ATTRIBUTES, deduplication_id="ingest-1")
        await queue.send([first, first])
        await queue.send([first])
        assert await queue.depth() == 1


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_a_blob_store_keeps_bytes_by_key_until_deleted(kind: str, tmp_path: Path) -> None:
    """put/get/delete; a missing key raises BlobNotFound; deleting twice is fine."""
    store = MemoryBlobStore() if kind == "memory" else FileBlobStore(tmp_path / "blobs")
    await store.put("payload-1", b"\x00" * 1000)

    assert await store.get("payload-1") == b"\x00" * 1000
    assert store.keys() == {"payload-1"}
    await store.delete("payload-1")
    await store.delete("payload-1")
    with pytest.raises(BlobNotFound):
        await store.get("payload-1")
    with pytest.raises(ValueError, match="unsafe"):
        await store.put("../escape", b"")


def test_batches_respect_the_entry_and_byte_limits() -> None:
    """Ten per batch at most, 256 KiB per batch at most, order kept."""
    sizes = [100] * 23 + [100_000] * 5 + [262_144]

    batches = split_batches(sizes)

    assert [i for batch in batches for i in batch] == list(range(len(sizes)))
    assert all(len(batch) <= 10 for batch in batches)
    assert all(sum(sizes[i] for i in batch) <= 262_144 for batch in batches)
    with pytest.raises(ValueError, match="above"):
        split_batches([262_145])
