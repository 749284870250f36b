"""Fan-out: every decision of the log that analytics counts, as a message on the analytics
queue (``is_fanned_out``: those a fact is made of; the others would be received and dropped).

Accepted signals go too (reduced to what analytics counts them by: source, service,
severity, labels), so that analytics can count signals per source and the noise dropped as
duplicates; ``helios.apps.application.analytics.decisions`` defines the message.

Analytics consumes decisions at its own pace and its failures never touch the core. Delivery
is at least once: a page is sent, then the position committed; a crash in between sends the
page again with the same deduplication ids (``decision/<position>``), which the queue drops
within its window and consumers can drop by position.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio.from_thread

from helios.apps.application.analytics.decisions import decision_body, is_fanned_out
from helios.apps.views.positions import move_position
from helios.apps.views.streams import STREAMS_KEPT, StreamDirectory
from helios.ports.event_store import EventStore, LogEntry
from helios.ports.queue import MessageAttributes, OutgoingMessage, Queue
from helios.ports.read_models import ReadModels

FOLLOWER = "fanout"
DECISION_KIND = "decision.v1"


class DecisionFanout:
    """Follower that sends decisions to a queue, then commits its position."""

    name = FOLLOWER

    @staticmethod
    def left_encoded(name: str) -> bool:
        """Only the decisions it sends are decoded: intake entries (the envelopes' bodies and
        what normalization made of them, the log's largest) are not."""
        return not is_fanned_out(name)

    def __init__(
        self, store: EventStore, db: ReadModels, queue: Queue, *, kept: int = STREAMS_KEPT
    ) -> None:
        """``kept``: how many stream names stay in memory (the most recently used)."""
        self._db = db
        self._queue = queue
        self._directory = StreamDirectory(db, store, capacity=kept)

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Send the page's decisions, then commit the new position (call from a worker
        thread started by anyio).

        Raises:
            StoreUnavailable: a store cannot be reached.
            QueueUnavailable: the analytics queue cannot take the messages.
            ConcurrencyConflict: another fan-out moved the position.
        """
        self._directory.learn(page)
        messages = []
        for entry in page:
            if not is_fanned_out(entry.name):
                continue
            owner = self._directory.name(entry.stream_id)
            tenant = owner.tenant if owner else ""
            body = decision_body(entry, tenant=tenant, key=owner.key if owner else "")
            messages.append(
                OutgoingMessage(
                    body=body,
                    attributes=MessageAttributes(
                        tenant=tenant, correlation_id=f"log-{entry.position}", kind=DECISION_KIND
                    ),
                    deduplication_id=f"decision/{entry.position}",
                )
            )
        if messages:
            # apply runs in a worker thread (see followers.follow); the queue is async.
            anyio.from_thread.run(self._queue.send, messages)
        with self._db.transaction() as cursor:
            self._directory.save(cursor)
            move_position(cursor, FOLLOWER, after=after, to=page[-1].position)
        self._directory.saved()
