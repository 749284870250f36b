"""The message queue between the API and the workers, and the store for oversized payloads.

The API puts what it accepted on a queue and answers 202; workers receive, process and delete.
Delivery is at least once: a message can be delivered again (after a crash, a visibility
timeout or a redrive), so consumers must deduplicate (the ingest worker records each processed
``ingest_id``). A message received more than ``max_receives`` times without being deleted is
moved to a dead-letter queue, where an operator can inspect it and redrive it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal, Protocol, runtime_checkable

import attrs

DEFAULT_MAX_RECEIVES = 3
"""Receives after which an undeleted message is dead-lettered (the SQS redrive policy)."""

RedriveAll = Literal["all"]
"""Pass ``"all"`` to ``Queue.redrive`` to move every dead letter back."""


class QueueError(Exception):
    """Base of the errors every queue adapter raises instead of its driver's errors."""


class QueueUnavailable(QueueError):
    """The queue cannot take or give messages now (unreachable, throttled, failing).

    The caller must not treat the messages it tried to send as accepted; the API answers 503
    with ``Retry-After: retry_after_s``. Some messages of a multi-batch ``send`` may already be
    enqueued: resending all of them is safe because consumers deduplicate.
    """

    def __init__(self, reason: str, *, retry_after_s: int = 5) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class MessageRejected(QueueError):
    """The queue refused a message as invalid (a bug on the sending side, never transient)."""


class BlobNotFound(QueueError):
    """No payload is stored under the key (already deleted, or never stored)."""


@attrs.frozen(kw_only=True)
class MessageAttributes:
    """What a consumer needs to route and trace a message without decoding its body."""

    tenant: str
    correlation_id: str
    kind: str
    """What the body is, e.g. ``envelope.v1``; a versioned, stable name."""


@attrs.frozen(kw_only=True)
class OutgoingMessage:
    """A message to enqueue. ``body`` is opaque to the queue (an encoded envelope or command)."""

    body: bytes
    attributes: MessageAttributes
    deduplication_id: str | None = None
    """Lets a queue drop a repeat sent within a few minutes (FIFO SQS, embedded). Optional:
    consumers deduplicate anyway."""
    group: str | None = None
    """On a FIFO queue, the message group: one consumer at a time takes a group's messages,
    in order. None: the tenant (its envelopes and ticks are decided one at a time)."""


@attrs.frozen(kw_only=True)
class ReceivedMessage:
    """One delivery of a message. ``receipt`` identifies this delivery, not the message."""

    message_id: str
    receipt: str
    body: bytes
    attributes: MessageAttributes
    receive_count: int
    """How many times the message has been delivered, this delivery included."""
    payload_ref: str | None = None
    """Where an oversized body is stored out of band; deleted together with the message."""


@attrs.frozen(kw_only=True)
class QueueBacklog:
    """How much work waits in a queue: what ``/metrics`` exports and the alert rules watch."""

    depth: int
    """Messages accepted and not yet deleted (in flight included, dead letters excluded)."""
    oldest_age_s: float | None
    """Age of the oldest of them; None when the queue cannot tell (SQS: CloudWatch's
    ``ApproximateAgeOfOldestMessage`` has it) or when it is empty."""
    dead_letters: int
    """Messages in the dead-letter queue (approximate on SQS)."""


class Queue(Protocol):
    """A durable, at-least-once work queue with a dead-letter queue."""

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Enqueue messages; when this returns, every one of them is durably accepted.

        Raises:
            QueueUnavailable: the queue could not take all of them (some may be enqueued).
            MessageRejected: a message is invalid for this queue.
        """
        ...

    async def receive(
        self,
        *,
        max_messages: int,
        wait_seconds: float,
        visibility_timeout_s: int | None = None,
    ) -> Sequence[ReceivedMessage]:
        """Take up to ``max_messages``, waiting up to ``wait_seconds`` for the first one.

        Received messages stay invisible to other consumers for ``visibility_timeout_s``
        (the queue's default when None), then are delivered again unless deleted. Returns
        an empty sequence when nothing arrived in time.

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...

    async def delete(self, messages: Sequence[ReceivedMessage]) -> None:
        """Acknowledge processed messages. A stale receipt (redelivered since) is ignored.

        Raises:
            QueueUnavailable: the queue cannot be reached; the messages will be redelivered.
        """
        ...

    async def extend_visibility(self, messages: Sequence[ReceivedMessage], seconds: int) -> None:
        """Keep messages invisible for ``seconds`` from now (long processing).

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...

    async def check_ready(self) -> None:
        """Prove the queue would durably accept a message sent now (the API's ``/readyz``).

        Stronger than reachable: a queue that answers reads but cannot commit a write (disk
        full, read-only, locked) is not ready, since every ingest would get 503.

        Raises:
            QueueUnavailable: a message sent now would be refused.
        """
        ...

    async def depth(self) -> int:
        """Approximate number of messages accepted and not yet deleted (dead letters excluded).

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...

    async def backlog(self) -> QueueBacklog:
        """Depth, age of the oldest message and dead letters, read without changing anything.

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...

    async def dead_letters(self, *, limit: int) -> Sequence[ReceivedMessage]:
        """Look at up to ``limit`` dead letters without removing them.

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...

    async def redrive(self, message_ids: Collection[str] | RedriveAll) -> int:
        """Move the given dead letters (or all) back to the main queue; returns how many moved.

        A redriven message starts again with a receive count of zero. It may be delivered twice
        if the move is interrupted, never lost.

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...

    async def purge_dead_letters(self, message_ids: Collection[str]) -> int:
        """Delete the given dead letters for good (payloads stored out of band included);
        returns how many were deleted. Ids that are not dead letters are left alone.

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        ...


@attrs.frozen(kw_only=True)
class SeenAs:
    """What a repeat of a message has in common with it (a body's hash, an SNS message id),
    in ``scope`` (a tenant's integration), and for how long a repeat is refused."""

    scope: str
    fingerprint: str
    window_ms: int


@runtime_checkable
class SendsOnce(Protocol):
    """A queue that deduplicates by content in the very commit that enqueues.

    What ``IdempotencyStore.recently_seen`` then ``remember_seen`` do around a ``send``, in one
    step: a repeat is told apart from a first at the moment it would be enqueued, and a
    message is remembered as seen exactly when it is durably enqueued — never before (its
    repeat is not refused on the strength of an enqueue that then fails), never after (no
    crash between the two can leave an accepted message unremembered or a remembered one
    unaccepted). A queue whose messages and remembered fingerprints share a transaction offers
    it (the embedded queue); the API uses it when its queue does.
    """

    async def send_once(self, message: OutgoingMessage, *, seen_as: SeenAs, now_ms: int) -> bool:
        """Enqueue ``message`` unless ``seen_as`` is remembered (its window not over at
        ``now_ms``, epoch ms); when enqueued, remember ``seen_as`` until ``now_ms +
        window_ms`` in the same commit. True: enqueued; False: a repeat, nothing enqueued.

        Raises:
            ValueError: ``seen_as.window_ms`` is not positive.
            QueueUnavailable: nothing was enqueued nor remembered; a retry is a first again.
        """
        ...


class BlobStore(Protocol):
    """Byte payloads by key, for bodies too large for a queue message."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` durably (overwrites).

        Raises:
            QueueUnavailable: the store cannot take it.
        """
        ...

    async def get(self, key: str) -> bytes:
        """The bytes stored under ``key``.

        Raises:
            BlobNotFound: nothing is stored under ``key``.
            QueueUnavailable: the store cannot be reached.
        """
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; deleting a missing key is not an error.

        Raises:
            QueueUnavailable: the store cannot be reached.
        """
        ...
