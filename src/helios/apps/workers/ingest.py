"""The ingest worker: receive envelopes (and ticks) in batches, decide, append, acknowledge.

* Several receives go into one ``Ingestor.ingest`` call, hence one store transaction: the
  store's fixed cost per transaction is paid once per batch, not once per envelope.
* Messages are deleted only after the commit; a crash before that redelivers them and the
  store's idempotency markers make the redelivery a no-op.
* A slow batch keeps its messages invisible (visibility extended every half timeout).
* While the store is unavailable the batch is retried with exponential backoff and jitter,
  holding its messages; no receive is wasted, so a store outage never dead-letters anything.
* A message that cannot be decoded, or a batch that fails for another reason, is retried
  envelope by envelope; what still fails is left undeleted and the queue dead-letters it
  after 3 receives, while the rest of the batch flows.
* ``sns.confirm.v1`` commands visit an SNS ``SubscribeURL`` (``subscriptions``); one that
  should be tried again later is left undeleted and invisible for its retry delay.
* ``stop`` (SIGTERM) ends receiving; batches in flight are finished and acknowledged.
* Each tenant's envelopes and ticks are decided in the order received (``in_tenant_order``).
  On a FIFO queue (``HELIOS_SQS_FIFO``) that is the order sent, and no other consumer gets a
  tenant's messages while a batch holds some: one tenant is decided by one worker at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import anyio.to_thread
import attrs
import structlog

from helios.apps.application.envelopes import ENVELOPE_KIND, MalformedMessage, decode_envelope
from helios.apps.application.ingest import Ingestor, IngestReport, Snapshotting, StateCache
from helios.apps.application.replay.log import without_automatic_collection
from helios.apps.application.repository import CACHE_CAPACITY
from helios.apps.workers.followers import backoff_delay, wait_or_stop
from helios.apps.workers.messages import (
    SNS_CONFIRM_KIND,
    TICK_KIND,
    ConfirmSubscription,
    TickCommand,
    decode_confirmation,
    decode_tick,
)
from helios.apps.workers.subscriptions import SubscriptionConfirmer
from helios.domain.values import Envelope
from helios.ports.event_store import EventStore, StoreUnavailable
from helios.ports.queue import Queue, QueueUnavailable, ReceivedMessage

_log = structlog.get_logger(__name__)
_T = TypeVar("_T")

BATCH_BYTES = 2_000_000
"""Most bytes of bodies decided in one transaction (``HELIOS_WORKER_BATCH_BYTES``): a received
batch of large bodies (500 of 100 alerts each) is decided in several, so that the worker never
holds 50,000 alerts' signals, states and events at once (the allocator keeps such a peak)."""


@attrs.define
class WorkerStats:
    """What the worker did so far (for logs, the demo and the benchmark)."""

    batches: int = 0
    envelopes: int = 0
    redelivered: int = 0
    signals: int = 0
    rejected: int = 0
    ticks: int = 0
    failed_messages: int = 0
    store_outages: int = 0
    confirmations: int = 0
    """SNS subscription confirmation attempts (whatever their outcome)."""
    confirmations_pending: int = 0
    """Attempts left for a later redelivery (retry, or dead-lettering after the last)."""


Committed = Callable[[Sequence[Envelope], IngestReport], None]


@attrs.define
class Stage:
    """Envelopes decided together (one transaction), then ticks, in order."""

    envelopes: list[tuple[ReceivedMessage, Envelope]] = attrs.Factory(list)
    ticks: list[tuple[ReceivedMessage, TickCommand]] = attrs.Factory(list)


def in_tenant_order(
    received: Sequence[ReceivedMessage],
) -> tuple[list[Stage], list[tuple[ReceivedMessage, ConfirmSubscription]]]:
    """A batch decoded into stages that keep each tenant's order of envelopes and ticks.

    A tenant's envelopes go into one stage until one follows a tick of that tenant, which
    opens its next stage; so a batch without such a case stays one transaction for all its
    envelopes, as before. Subscription confirmations decide nothing: they come last.
    Messages that cannot be decoded are logged and left out (not deleted: the queue
    dead-letters them).
    """
    stages: list[Stage] = []
    confirmations: list[tuple[ReceivedMessage, ConfirmSubscription]] = []
    stage_of: dict[str, int] = {}
    after_tick: set[str] = set()
    for message in received:
        try:
            decoded = _decoded(message)
        except MalformedMessage as error:
            _log.error(
                "worker.malformed_message",
                message_id=message.message_id,
                receive_count=message.receive_count,
                error=str(error),
            )
            continue
        if isinstance(decoded, ConfirmSubscription):
            confirmations.append((message, decoded))
            continue
        tenant = decoded.tenant
        number = stage_of.get(tenant, 0)
        if isinstance(decoded, Envelope) and tenant in after_tick:
            number += 1
            after_tick.discard(tenant)
        stage_of[tenant] = number
        while len(stages) <= number:
            stages.append(Stage())
        if isinstance(decoded, Envelope):
            stages[number].envelopes.append((message, decoded))
        else:
            stages[number].ticks.append((message, decoded))
            after_tick.add(tenant)
    return stages, confirmations


def _decoded(message: ReceivedMessage) -> Envelope | TickCommand | ConfirmSubscription:
    """The body of a message by its kind.

    Raises:
        MalformedMessage: unknown kind, or a body that is not of its kind.
    """
    kind = message.attributes.kind
    if kind == TICK_KIND:
        return decode_tick(message.body)
    if kind == SNS_CONFIRM_KIND:
        return decode_confirmation(message.body)
    if kind == ENVELOPE_KIND:
        return decode_envelope(message.body)
    raise MalformedMessage(f"unknown kind {kind!r}")


@attrs.define
class IngestWorker:
    """Consumers of the ingest queue; ``run`` returns once ``stop`` is set and work drained."""

    queue: Queue
    store: EventStore
    concurrency: int = 2
    batch: int = 250
    wait_s: float = 5.0
    visibility_s: int = 60
    snapshotting: Snapshotting = attrs.Factory(Snapshotting)
    state_cache: int = CACHE_CAPACITY
    """Alert and incident-group states each consumer keeps in memory (an LRU)."""
    batch_bytes: int = BATCH_BYTES
    """Most bytes of envelope bodies per store transaction (at least one envelope)."""
    on_committed: Committed | None = None
    confirmer: SubscriptionConfirmer | None = None
    """Visits SNS subscription URLs; without one, confirmation commands are dead-lettered."""
    stats: WorkerStats = attrs.Factory(WorkerStats)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; in-flight batches finish and are acknowledged."""
        consumers = [
            asyncio.create_task(self._consume(stop, self._ingestor(), number))
            for number in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*consumers)
        finally:
            for task in consumers:
                task.cancel()

    def _ingestor(self) -> Ingestor:
        return Ingestor(
            self.store, cache=StateCache(self.state_cache), snapshotting=self.snapshotting
        )

    async def _consume(self, stop: asyncio.Event, ingestor: Ingestor, number: int) -> None:
        log = _log.bind(consumer=number)
        failures = 0
        while not stop.is_set():
            try:
                received = await self._receive(stop)
                failures = 0
            except QueueUnavailable as error:
                failures += 1
                delay = backoff_delay(failures)
                log.warning("worker.queue_unavailable", error=str(error), retry_in_s=delay)
                await wait_or_stop(stop, delay)
                continue
            if received:
                # Shielded: a cancelled run must not abandon a batch between commit and delete.
                await asyncio.shield(self.process(ingestor, received, stop))

    async def _receive(self, stop: asyncio.Event) -> Sequence[ReceivedMessage]:
        receiving = asyncio.ensure_future(
            self.queue.receive(
                max_messages=self.batch,
                wait_seconds=self.wait_s,
                visibility_timeout_s=self.visibility_s,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if receiving in done:
            return receiving.result()
        # Stopping during a long poll: whatever the receive takes is delivered again after
        # its visibility timeout, never lost.
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError, QueueUnavailable):
            late = await receiving
            if late:
                return late
        return ()

    async def process(
        self, ingestor: Ingestor, received: Sequence[ReceivedMessage], stop: asyncio.Event
    ) -> None:
        """Decide and record one batch of messages, then delete what was committed."""
        keeper = asyncio.create_task(self._keep_invisible(received))
        later: list[tuple[ReceivedMessage, int]] = []
        try:
            done = await self._decide(ingestor, received, stop, later)
        finally:
            keeper.cancel()
        for message, delay_s in later:
            try:
                await self.queue.extend_visibility([message], delay_s)
            except QueueUnavailable as error:
                # It comes back after the batch's visibility timeout instead: sooner, no harm.
                _log.warning("worker.delay_failed", error=str(error))
        if done:
            try:
                await self.queue.delete(done)
            except QueueUnavailable as error:
                # Redelivered later and recognised as processed: costs time, never a duplicate.
                _log.warning("worker.delete_failed", error=str(error), messages=len(done))
        self.stats.failed_messages += len(received) - len(done)

    async def _decide(
        self,
        ingestor: Ingestor,
        received: Sequence[ReceivedMessage],
        stop: asyncio.Event,
        later: list[tuple[ReceivedMessage, int]],
    ) -> list[ReceivedMessage]:
        """The messages done with; those to try again after a delay are added to ``later``.

        Each tenant's envelopes and ticks are decided in the order received (a FIFO queue hands
        them out in the order sent); see ``in_tenant_order``.
        """
        stages, confirmations = in_tenant_order(received)
        done: list[ReceivedMessage] = []
        for stage in stages:
            if stage.envelopes:
                for part in _parts(stage.envelopes, self.batch_bytes):
                    done += await self._ingest(ingestor, part, stop)
            for message, tick in stage.ticks:
                # A tick that decides nothing (0) is done all the same; only None, a stop
                # during a store outage, leaves it for redelivery. Treating 0 as a failure
                # dead-lettered every idle tick after three receives.
                decided = await self._with_store(stop, partial(self._tick, ingestor, tick))
                if decided is not None:
                    done.append(message)
        for message, command in confirmations:
            delay_s = await self._confirm(message, command)
            if delay_s is None:
                done.append(message)
            else:
                later.append((message, delay_s))
        return done

    async def _confirm(self, message: ReceivedMessage, command: ConfirmSubscription) -> int | None:
        """One attempt at a subscription confirmation: None when done with it, else the
        seconds before it may be received again."""
        if self.confirmer is None:
            _log.error("worker.no_confirmer", message_id=message.message_id)
            return 0
        self.stats.confirmations += 1
        try:
            attempted = await self.confirmer.confirm(command, attempt=message.receive_count)
        except StoreUnavailable as error:
            # Unlike a batch, an attempt is not held through an outage: it comes back after
            # the visibility timeout (the outage costs one of its attempts).
            _log.warning("worker.confirmation_store_unavailable", error=str(error))
            attempted = None
        except Exception as error:  # a bug must not stop the batch; the DLQ keeps the command
            _log.error(
                "worker.confirmation_failed",
                message_id=message.message_id,
                receive_count=message.receive_count,
                error=repr(error),
            )
            attempted = None
        if attempted is None:
            self.stats.confirmations_pending += 1
            return self.visibility_s
        if attempted.done:
            return None
        self.stats.confirmations_pending += 1
        return attempted.retry_in_s

    async def _ingest(
        self,
        ingestor: Ingestor,
        batch: list[tuple[ReceivedMessage, Envelope]],
        stop: asyncio.Event,
    ) -> list[ReceivedMessage]:
        envelopes = [envelope for _, envelope in batch]
        try:
            report = await self._with_store(stop, partial(_uncollected, ingestor, envelopes))
        except Exception as error:
            if len(batch) == 1:
                _log.error(
                    "worker.envelope_failed",
                    message_id=batch[0][0].message_id,
                    receive_count=batch[0][0].receive_count,
                    error=repr(error),
                )
                return []
            _log.warning("worker.batch_failed", error=repr(error), messages=len(batch))
            done: list[ReceivedMessage] = []
            for item in batch:
                done += await self._ingest(ingestor, [item], stop)
            return done
        if report is None:
            return []
        self._count(report)
        if self.on_committed is not None:
            self.on_committed(envelopes, report)
        return [message for message, _ in batch]

    def _tick(self, ingestor: Ingestor, tick: TickCommand) -> int:
        decided = ingestor.tick(tick.tenant, tick.dedup_keys, tick.at)
        self.stats.ticks += 1
        return decided

    async def _with_store(self, stop: asyncio.Event, call: Callable[[], _T]) -> _T | None:
        """Run a store call in a thread, retrying with backoff while the store is down.

        Returns None if ``stop`` was set during an outage (the messages stay undeleted).

        Raises:
            EventStoreError: any store error other than unavailability.
        """
        outages = 0
        while True:
            try:
                return await anyio.to_thread.run_sync(call)
            except StoreUnavailable as error:
                outages += 1
                self.stats.store_outages += outages == 1
                delay = backoff_delay(outages)
                _log.warning("worker.store_unavailable", error=str(error), retry_in_s=delay)
                if stop.is_set():
                    return None
                await wait_or_stop(stop, delay)

    async def _keep_invisible(self, received: Sequence[ReceivedMessage]) -> None:
        while True:
            await asyncio.sleep(self.visibility_s / 2)
            try:
                await self.queue.extend_visibility(received, self.visibility_s)
            except QueueUnavailable as error:
                _log.warning("worker.extend_visibility_failed", error=str(error))

    def _count(self, report: IngestReport) -> None:
        self.stats.batches += 1
        self.stats.envelopes += report.envelopes
        self.stats.redelivered += report.already_processed
        self.stats.signals += report.signals
        self.stats.rejected += report.rejected


def _uncollected(ingestor: Ingestor, envelopes: list[Envelope]) -> IngestReport:
    """``ingestor.ingest(envelopes)`` with automatic garbage collection off meanwhile.

    A batch holds its signals, states, decisions and rows (tens of thousands of objects) until
    its commit: the collections their allocations trigger walk them all and promote them to
    the older generations, whose full collections then walk them again, a sixth of the
    batch's CPU (bench/ingest_steps.py). They are acyclic, freed by reference counting when
    the batch ends; the collector runs as before once it is over. Other threads of the
    process run without automatic collection for as long.

    Raises:
        StoreUnavailable: as ``Ingestor.ingest``.
        ConcurrencyConflict: as ``Ingestor.ingest``.
    """
    with without_automatic_collection():
        return ingestor.ingest(envelopes)


def _parts(
    batch: list[tuple[ReceivedMessage, Envelope]], most_bytes: int
) -> list[list[tuple[ReceivedMessage, Envelope]]]:
    """The batch in order, cut so each part's bodies hold at most ``most_bytes`` (or one)."""
    parts: list[list[tuple[ReceivedMessage, Envelope]]] = []
    size = most_bytes + 1
    for item in batch:
        length = len(item[1].body)
        if size + length > most_bytes:
            parts.append([])
            size = 0
        parts[-1].append(item)
        size += length
    return parts
