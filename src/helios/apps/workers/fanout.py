"""Fan-out: every decision of the log, as a message on the analytics queue.

Analytics consumes decisions at its own pace and its failures never touch the core. Delivery
is at least once: a page is sent, then the position committed; a crash in between sends the
page again with the same deduplication ids (``decision/<position>``), which the queue drops
within its window and consumers can drop by position.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio.from_thread
import msgspec

from helios.apps.views.positions import move_position
from helios.apps.views.streams import StreamDirectory
from helios.ports.event_store import EventStore, LogEntry
from helios.ports.queue import MessageAttributes, OutgoingMessage, Queue
from helios.ports.read_models import ReadModels

FOLLOWER = "fanout"
DECISION_KIND = "decision.v1"
# Signals are inputs, not decisions; analytics reads decisions only.
_SKIPPED = frozenset({"helios.alert.signal_accepted.v1"})


class DecisionFanout:
    """Follower that sends decisions to a queue, then commits its position."""

    name = FOLLOWER

    def __init__(self, store: EventStore, db: ReadModels, queue: Queue) -> None:
        self._db = db
        self._queue = queue
        self._directory = StreamDirectory(db, store)

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
            if entry.name in _SKIPPED or not entry.name.startswith(
                ("helios.alert.", "helios.incident.")
            ):
                continue
            owner = self._directory.name(entry.stream_id)
            tenant = owner.tenant if owner else ""
            body = msgspec.json.encode(
                {
                    "position": entry.position,
                    "stream_id": str(entry.stream_id),
                    "version": entry.version,
                    "name": entry.name,
                    "tenant": tenant,
                    "key": owner.key if owner else "",
                    "event": entry.event,
                }
            )
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
