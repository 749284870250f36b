"""FIFO SQS: one tenant's messages go to one consumer at a time, in order.

FIFO queues made by ``create_queues(fifo=True)`` on a private SQS-compatible server that
honours message groups (``tests/fifo_sqs.py``: the shared moto server does not, for a receive
already waiting, and fails the last test here). The group tests are what the ingest workers rely
on to never decide two messages of one tenant at once; the control test shows they fail on a
queue without groups. The dead-letter tests show a selective redrive or purge reaching dead
letters a group's order hides behind others (they fail on the stock scan, which takes 1 of 3).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import anyio
import pytest

from fifo_sqs import fifo_sqs_server
from helios.adapters import queue_codec
from helios.adapters.sqs import (
    MemoryBlobStore,
    SqsQueue,
    SqsSettings,
    create_queues,
    delete_queues,
    sqs_client,
)
from helios.adapters.sqs import queue as sqs_queue
from helios.adapters.sqs.provisioning import QueueUrls
from helios.ports.queue import MessageAttributes, OutgoingMessage, ReceivedMessage

pytestmark = pytest.mark.sqs


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fifo_endpoint() -> Iterator[str]:
    with fifo_sqs_server() as url:
        yield url


@pytest.fixture
async def sqs(fifo_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    async with sqs_client(SqsSettings(endpoint_url=fifo_endpoint, max_attempts=2)) as client:
        yield client


async def _queue(client: Any, *, fifo: bool) -> tuple[SqsQueue, QueueUrls]:
    urls = await create_queues(client, prefix=f"t{uuid.uuid4().hex[:12]}-fifo-", fifo=fifo)
    queue = SqsQueue(
        client=client,
        queue_url=urls.main,
        dead_letter_url=urls.dead_letter,
        blob_store=MemoryBlobStore(),
        redrive_wait_s=0,
    )
    return queue, urls


@pytest.fixture
async def fifo(sqs: Any) -> AsyncIterator[SqsQueue]:
    queue, urls = await _queue(sqs, fifo=True)
    try:
        yield queue
    finally:
        await delete_queues(sqs, urls)


def _message(tenant: str, body: str, dedup: str | None = None) -> OutgoingMessage:
    return OutgoingMessage(
        body=body.encode(),
        attributes=MessageAttributes(tenant=tenant, correlation_id=body, kind="test.v1"),
        deduplication_id=dedup if dedup is not None else f"{tenant}/{body}",
    )


def _bodies(messages: Sequence[ReceivedMessage]) -> list[str]:
    return [m.body.decode() for m in messages]


async def _one_each(queue: SqsQueue) -> tuple[list[str], list[str], list[ReceivedMessage]]:
    """Two consumers receive one message each while the first holds its own."""
    first = await queue.receive(max_messages=1, wait_seconds=2, visibility_timeout_s=30)
    second = await queue.receive(max_messages=1, wait_seconds=1, visibility_timeout_s=30)
    return _bodies(first), _bodies(second), [*first, *second]


@pytest.mark.anyio
async def test_a_tenants_next_message_waits_while_one_is_in_flight_and_others_flow(
    fifo: SqsQueue,
) -> None:
    """Consumer 1 holds a-1: consumer 2 gets b-1, never a-2; a-2 comes once a-1 is deleted."""
    await fifo.send([_message("a", "a-1"), _message("a", "a-2"), _message("b", "b-1")])

    first, second, held = await _one_each(fifo)

    assert first == ["a-1"]
    assert second == ["b-1"]
    assert await fifo.receive(max_messages=10, wait_seconds=1, visibility_timeout_s=30) == []
    await fifo.delete(held)
    assert _bodies(await fifo.receive(max_messages=10, wait_seconds=2)) == ["a-2"]


@pytest.mark.anyio
async def test_a_batch_receive_hands_out_each_tenants_messages_in_the_order_sent(
    fifo: SqsQueue,
) -> None:
    """While a batch holds a group, the adapter's next ReceiveMessage call of the same batch gets
    none of its later messages; after a timeout each group comes again from its first message.

    How much of each group a redelivery holds depends on when each message's timeout ended:
    what is asserted is that every batch continues each group where the last deleted one left
    it, in the order sent, and that a message comes again only after its timeout."""
    sent = [_message(tenant, f"{tenant}-{n}") for n in range(5) for tenant in ("a", "b")]
    await fifo.send([*sent, _message("a", "a-5")])

    got = await fifo.receive(max_messages=20, wait_seconds=2, visibility_timeout_s=2)

    for tenant in ("a", "b"):  # the first call takes ten, the second none of group a
        assert [b for b in _bodies(got) if b.startswith(tenant)] == [
            f"{tenant}-{n}" for n in range(5)
        ]
    waiting = {tenant: [f"{tenant}-{n}" for n in range(5)] for tenant in ("a", "b")}
    waiting["a"].append("a-5")
    timed_out = set(_bodies(got))
    while any(waiting.values()):
        batch = await fifo.receive(max_messages=20, wait_seconds=5, visibility_timeout_s=30)
        assert batch, f"never received {waiting}"
        for tenant, rest in waiting.items():
            mine = [b for b in _bodies(batch) if b.startswith(tenant)]
            assert mine == rest[: len(mine)]
            del rest[: len(mine)]
        for message in batch:
            assert message.receive_count == (2 if message.body.decode() in timed_out else 1)
        await fifo.delete(batch)
    assert await fifo.receive(max_messages=10, wait_seconds=1) == []


@pytest.mark.anyio
async def test_a_resend_with_the_same_deduplication_id_is_dropped(fifo: SqsQueue) -> None:
    """The same ingest id sent twice is one message; a message without an id is never dropped."""
    await fifo.send([_message("a", "first", dedup="ingest-1")])
    await fifo.send([_message("a", "again", dedup="ingest-1")])
    unnamed = OutgoingMessage(
        body=b"no id", attributes=MessageAttributes(tenant="", correlation_id="", kind="test.v1")
    )
    await fifo.send([unnamed, unnamed])

    got = await fifo.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=30)

    assert sorted(_bodies(got)) == ["first", "no id", "no id"]


@pytest.mark.anyio
async def test_a_long_tenant_id_is_a_valid_group_and_deduplication_id(fifo: SqsQueue) -> None:
    """SQS takes at most 128 printable ASCII characters: longer or other ids are hashed."""
    tenant = "t" * 200 + "é"
    await fifo.send([_message(tenant, "long", dedup="x" * 300)])

    [got] = await fifo.receive(max_messages=1, wait_seconds=2)

    assert got.attributes.tenant == tenant


@pytest.mark.anyio
async def test_a_fifo_dead_letter_is_redriven_into_its_tenants_group(fifo: SqsQueue) -> None:
    """Dead-lettered after 3 receives into the FIFO DLQ; redrive resends it with its group."""
    await fifo.send([_message("a", "poison")])
    for _ in range(3):
        assert await fifo.receive(max_messages=1, wait_seconds=2, visibility_timeout_s=0)
    assert await fifo.receive(max_messages=1, wait_seconds=0.5) == []
    [dead] = await fifo.dead_letters(limit=10)

    assert await fifo.redrive([dead.message_id]) == 1

    [back] = await fifo.receive(max_messages=1, wait_seconds=2)
    assert back.body == b"poison"
    assert back.attributes.tenant == "a"
    assert back.receive_count == 1


@pytest.mark.anyio
async def test_fifo_queues_are_created_idempotently_with_a_fifo_dead_letter_queue(
    sqs: Any,
) -> None:
    """``.fifo`` names, FifoQueue on both, per-group throughput, redrive to the FIFO DLQ."""
    prefix = f"t{uuid.uuid4().hex[:12]}-fifo-"
    urls = await create_queues(sqs, prefix=prefix, fifo=True)
    try:
        assert urls == await create_queues(sqs, prefix=prefix, fifo=True, max_receives=5)
        assert urls.main.endswith(f"{prefix}ingest.fifo")
        assert urls.dead_letter.endswith(f"{prefix}ingest-dlq.fifo")
        main = (await sqs.get_queue_attributes(QueueUrl=urls.main, AttributeNames=["All"]))[
            "Attributes"
        ]
        dead = (await sqs.get_queue_attributes(QueueUrl=urls.dead_letter, AttributeNames=["All"]))[
            "Attributes"
        ]
        assert main["FifoQueue"] == dead["FifoQueue"] == "true"
        assert main["ContentBasedDeduplication"] == "false"
        assert main["DeduplicationScope"] == "messageGroup"
        assert main["FifoThroughputLimit"] == "perMessageGroupId"
        policy = json.loads(main["RedrivePolicy"])
        assert policy["deadLetterTargetArn"] == dead["QueueArn"]
        assert int(policy["maxReceiveCount"]) == 5
    finally:
        await delete_queues(sqs, urls)


@pytest.mark.anyio
async def test_a_standard_queue_does_not_hold_a_tenants_next_message(sqs: Any) -> None:
    """The control: without FIFO a second consumer gets a-2 while a-1 is in flight (so the
    first test can tell groups honoured from not)."""
    queue, urls = await _queue(sqs, fifo=False)
    try:
        await queue.send([_message("a", "a-1")])
        await queue.send([_message("a", "a-2")])
        _, _, held = await _one_each(queue)
        assert sorted(_bodies(held)) == ["a-1", "a-2"]
    finally:
        await delete_queues(sqs, urls)


@pytest.mark.anyio
async def test_a_consumer_already_waiting_does_not_get_a_held_tenants_next_message(
    fifo: SqsQueue,
) -> None:
    """Two long polls wait on an empty queue; a-1 arrives and one takes it; a-2 arrives while
    a-1 is held: the other poll must not take it (each worker long-polls all the time)."""
    results: list[list[str]] = []

    async def poll() -> None:
        got = await fifo.receive(max_messages=10, wait_seconds=3, visibility_timeout_s=30)
        results.append(_bodies(got))

    async with anyio.create_task_group() as group:
        group.start_soon(poll)
        group.start_soon(poll)
        await anyio.sleep(0.5)
        await fifo.send([_message("a", "a-1")])
        await anyio.sleep(0.5)
        await fifo.send([_message("a", "a-2")])

    assert sorted(results) == [[], ["a-1"]]


@pytest.mark.anyio
async def test_a_message_with_a_group_of_its_own_does_not_hold_up_its_tenant(
    fifo: SqsQueue,
) -> None:
    """An SNS confirmation held for a retry delay is in its own group: the tenant's envelopes
    and ticks flow meanwhile."""
    confirm = OutgoingMessage(
        body=b"confirm",
        attributes=MessageAttributes(tenant="a", correlation_id="c", kind="test.v1"),
        deduplication_id="confirm-1",
        group="sns-confirm/a/1",
    )
    await fifo.send([confirm, _message("a", "a-1")])

    first, second, _ = await _one_each(fifo)

    assert (first, second) == (["confirm"], ["a-1"])


# -- selective redrive and purge on a FIFO dead-letter queue ----------------------------------
#
# On a FIFO dead-letter queue a group's later messages are handed out only once its earlier
# ones are gone from the queue or at least no longer in flight: picking the 12th of 25 means
# getting the 11 before it out of the way first.

_DEAD = 25
_CHOSEN = (0, 11, 24)


async def _dead_letters_in_one_group(urls: QueueUrls, sqs: Any, *, pad: int = 0) -> list[str]:
    """25 dead letters of tenant ``a``, in one group as a FIFO DLQ keeps them; their ids.
    Each body is ``d-N``, then ``pad`` spaces."""
    fifo = urls.dead_letter.endswith(".fifo")
    ids: list[str] = []
    per_call = max(1, min(10, 200_000 // (pad + 100)))
    for start in range(0, _DEAD, per_call):
        entries = [
            {
                "Id": str(n),
                # The codec's verbatim text frame, which leaves the padding uncompressed.
                "MessageBody": "t" + f"d-{n}".ljust(pad + len(f"d-{n}")),
                "MessageAttributes": {
                    "tenant": {"DataType": "String", "StringValue": "a"},
                    "correlation_id": {"DataType": "String", "StringValue": f"d-{n}"},
                    "kind": {"DataType": "String", "StringValue": "test.v1"},
                },
                **({"MessageGroupId": "a", "MessageDeduplicationId": f"d-{n}"} if fifo else {}),
            }
            for n in range(start, min(start + per_call, _DEAD))
        ]
        response = await sqs.send_message_batch(QueueUrl=urls.dead_letter, Entries=entries)
        assert not response.get("Failed")
        ids.extend(
            m["MessageId"] for m in sorted(response["Successful"], key=lambda m: int(m["Id"]))
        )
    return ids


async def _drained(url: str, sqs: Any) -> list[str]:
    """Every message left in ``url``, in the order the queue hands them out (removed)."""
    bodies: list[str] = []
    while True:
        response = await sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        )
        batch = response.get("Messages", [])
        if not batch:
            return bodies
        bodies.extend(queue_codec.from_text(m["Body"]).decode().rstrip() for m in batch)
        await sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
            ],
        )


def _left(chosen: tuple[int, ...] = _CHOSEN) -> list[str]:
    return [f"d-{n}" for n in range(_DEAD) if n not in chosen]


@pytest.mark.anyio
@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
async def test_a_selective_redrive_reaches_chosen_dead_letters_deep_in_a_group(
    sqs: Any, fifo: bool
) -> None:
    """The 1st, 12th and 25th of 25 in one group are moved, in order; 22 stay, in order, and
    redriving the same ids again moves nothing."""
    queue, urls = await _queue(sqs, fifo=fifo)
    try:
        ids = await _dead_letters_in_one_group(urls, sqs)
        chosen = {ids[n] for n in _CHOSEN}

        assert await queue.redrive(chosen) == 3
        assert await queue.redrive(chosen) == 0

        moved = await _drained(urls.main, sqs)
        left = await _drained(urls.dead_letter, sqs)
        if fifo:
            assert moved == ["d-0", "d-11", "d-24"]
            assert left == _left()
        else:  # a standard queue keeps no order
            assert sorted(moved) == ["d-0", "d-11", "d-24"]
            assert sorted(left) == sorted(_left())
    finally:
        await delete_queues(sqs, urls)


@pytest.mark.anyio
@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
async def test_a_selective_purge_reaches_chosen_dead_letters_deep_in_a_group(
    sqs: Any, fifo: bool
) -> None:
    """The 1st, 12th and 25th of 25 in one group are deleted; 22 stay, in order; a second
    purge of the same ids deletes nothing."""
    queue, urls = await _queue(sqs, fifo=fifo)
    try:
        ids = await _dead_letters_in_one_group(urls, sqs)
        chosen = {ids[n] for n in _CHOSEN}

        assert await queue.purge_dead_letters(chosen) == 3
        assert await queue.purge_dead_letters(chosen) == 0

        assert await _drained(urls.main, sqs) == []
        left = await _drained(urls.dead_letter, sqs)
        assert left == _left() if fifo else sorted(left) == sorted(_left())
    finally:
        await delete_queues(sqs, urls)


@pytest.mark.anyio
async def test_a_fifo_dead_letter_passed_over_keeps_its_id_and_receives(sqs: Any) -> None:
    """After a purge of the 25th passed the 24 before it over, the view shows them under the
    ids they had, with the receives they had; a redrive by such an id reaches it, and on the
    main queue it is a message of its own again."""
    queue, urls = await _queue(sqs, fifo=True)
    try:
        ids = await _dead_letters_in_one_group(urls, sqs)
        assert await queue.purge_dead_letters([ids[24]]) == 1

        view = await queue.dead_letters(limit=10)

        assert [(m.message_id, m.body) for m in view] == [
            (ids[n], f"d-{n}".encode()) for n in range(10)
        ]
        assert all(m.receive_count >= 2 for m in view)  # the purge's receive and the view's
        assert await queue.redrive([ids[5]]) == 1
        [back] = await queue.receive(max_messages=10, wait_seconds=2)
        assert (back.body, back.attributes.tenant, back.receive_count) == (b"d-5", "a", 1)
        assert back.message_id not in ids
        assert await _drained(urls.dead_letter, sqs) == _left((5, 24))
    finally:
        await delete_queues(sqs, urls)


@pytest.mark.anyio
async def test_a_fifo_scan_ends_even_if_its_copies_lost_the_id_they_are_known_by(
    sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the id attribute lost, the scan would never meet a dead letter it passed over:
    its bound on passes (from the queue's size) ends it, with nothing lost."""
    queue, urls = await _queue(sqs, fifo=True)
    monkeypatch.setattr(sqs_queue, "_dead_letter_id", lambda item: item["MessageId"])
    try:
        ids = await _dead_letters_in_one_group(urls, sqs)

        with anyio.fail_after(60):
            assert await queue.purge_dead_letters([ids[24], "no-such-id"]) == 1

        assert sorted(await _drained(urls.dead_letter, sqs)) == sorted(_left((24,)))
    finally:
        await delete_queues(sqs, urls)


@pytest.mark.anyio
async def test_large_fifo_dead_letters_are_passed_over_and_redriven_in_batches_sqs_takes(
    sqs: Any,
) -> None:
    """Ten 110 kB dead letters are more than one SQS batch may carry (256 KiB; 1 MiB on the test
    server): the copies go in
    as many calls as needed."""
    queue, urls = await _queue(sqs, fifo=True)
    try:
        ids = await _dead_letters_in_one_group(urls, sqs, pad=110_000)

        assert await queue.redrive([ids[n] for n in range(10, 25)]) == 15

        assert await _drained(urls.main, sqs) == [f"d-{n}" for n in range(10, 25)]
        assert await _drained(urls.dead_letter, sqs) == [f"d-{n}" for n in range(10)]
    finally:
        await delete_queues(sqs, urls)
