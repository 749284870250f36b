"""Ingest a batch of envelopes: normalize → load → decide → append, in one transaction.

Throughput comes from batching: a whole batch of envelopes (and every alert, incident and
intake stream it touches, with one idempotency marker per envelope) is appended in a single
store transaction. A redelivered envelope is dropped from the batch and the rest retried; a
concurrency conflict reloads the streams involved and decides again.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import attrs
import orjson
import structlog

from helios.domain import alert, engine, incident, ruleset_stream, silence, versions
from helios.domain.intake import (
    EnvelopeReceived,
    TickReceived,
    envelope_stream,
    outcome_event,
    tick_stream,
)
from helios.domain.normalize import Normalized, Rejected, normalize
from helios.domain.values import Envelope, Millis
from helios.ports.event_store import (
    AppendBatch,
    ConcurrencyConflict,
    DuplicateInput,
    EventStore,
    EventStoreError,
    StreamAppend,
)
from helios.ports.snapshots import Snapshot, SnapshotStore, SnapshotUnreadable

MAX_ATTEMPTS = 25
SNAPSHOT_EVERY = 100
"""A state is snapshotted each time its stream crosses a multiple of this many events."""
SNAPSHOT_KEEP = 2
"""Snapshots kept per stream (the latest ones); older ones are pruned as new ones are written."""

_log = structlog.get_logger(__name__)


def _backoff(attempt: int) -> None:
    """Sleep a little, randomly, before retrying a conflicting append: two workers that keep
    colliding on the same streams must not retry in lock-step."""
    time.sleep(random.uniform(0, min(0.25, 0.002 * 2**attempt)))


def input_key(envelope: Envelope) -> str:
    return f"ingest/{envelope.tenant}/{envelope.ingest_id}"


@attrs.frozen(kw_only=True)
class IngestReport:
    envelopes: int = 0
    """Envelopes recorded by this call."""
    already_processed: int = 0
    """Redelivered envelopes that changed nothing."""
    signals: int = 0
    rejected: int = 0
    """Envelopes that could not be normalized (kept in quarantine)."""
    events: int = 0
    attempts: int = 0
    position: int = 0


@attrs.frozen(kw_only=True)
class Snapshotting:
    """When loaded states are snapshotted: ``every`` events of their stream (0: never)."""

    every: int = attrs.field(default=SNAPSHOT_EVERY, validator=attrs.validators.ge(0))
    keep: int = attrs.field(default=SNAPSHOT_KEEP, validator=attrs.validators.ge(1))


@attrs.define
class LoadStats:
    """What cold loads cost (states read from the store, not from the cache)."""

    loads: int = 0
    events_read: int = 0
    """Stream events read and evolved by loads."""
    snapshots_used: int = 0
    snapshots_refused: int = 0
    """Snapshots of another shape or that did not decode: their stream was read whole."""
    snapshots_written: int = 0
    snapshot_write_failures: int = 0


@attrs.define
class _Cached:
    state: Any
    version: int


class StateCache:
    """Recently used aggregate states with their stream versions (an LRU).

    Correctness never depends on it: a stale entry makes the append conflict, and the
    conflicting streams are then reloaded from the store.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._items: OrderedDict[uuid.UUID, _Cached] = OrderedDict()
        self._capacity = capacity

    def get(self, stream: uuid.UUID) -> _Cached | None:
        item = self._items.get(stream)
        if item is not None:
            self._items.move_to_end(stream)
        return item

    def put(self, stream: uuid.UUID, state: Any, version: int) -> None:
        self._items[stream] = _Cached(state=state, version=version)
        self._items.move_to_end(stream)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def forget(self, streams: Iterable[uuid.UUID]) -> None:
        for stream in streams:
            self._items.pop(stream, None)


class Ingestor:
    """The ingest use case over an event store (synchronous; async callers use a thread)."""

    def __init__(
        self,
        store: EventStore,
        *,
        decode: Callable[[bytes], Any] = orjson.loads,
        cache: StateCache | None = None,
        snapshots: SnapshotStore | None = None,
        snapshotting: Snapshotting = Snapshotting(),
    ) -> None:
        """``snapshots`` defaults to the store itself when it keeps snapshots."""
        self._store = store
        self._decode = decode
        self._cache = cache if cache is not None else StateCache()
        if snapshots is None and isinstance(store, SnapshotStore):
            snapshots = store
        self._snapshots = snapshots if snapshotting.every else None
        self._snapshotting = snapshotting
        # Streams loaded from further back than a snapshot interval: snapshot them at the next
        # commit, so history recorded before snapshots existed gets one on first use.
        self._owed: set[uuid.UUID] = set()
        self.stats = LoadStats()

    # ------------------------------------------------------------------ public

    def ingest(self, envelopes: Sequence[Envelope]) -> IngestReport:
        """Record and decide a batch of envelopes atomically; redeliveries change nothing.

        Raises:
            StoreUnavailable: the store cannot be reached (nothing of the batch was written).
            ConcurrencyConflict: still conflicting after several reloads.
        """
        pending = list(_distinct(envelopes))
        duplicates = len(envelopes) - len(pending)
        attempts = 0
        while True:
            attempts += 1
            if not pending:
                return IngestReport(already_processed=duplicates, attempts=attempts)
            plan = self._plan(pending)
            try:
                position = self._store.append(plan.batch)
            except DuplicateInput as exc:
                done = set(exc.keys)
                before = len(pending)
                pending = [e for e in pending if input_key(e) not in done]
                duplicates += before - len(pending)
                if len(pending) == before:
                    raise
                continue
            except ConcurrencyConflict as exc:
                self._cache.forget(exc.stream_ids)
                if attempts >= MAX_ATTEMPTS:
                    raise
                _backoff(attempts)
                continue
            plan.remember(self._cache)
            self._snapshot(plan.working, plan.versions)
            return IngestReport(
                envelopes=len(pending),
                already_processed=duplicates,
                signals=plan.signals,
                rejected=plan.rejected,
                events=plan.events,
                attempts=attempts,
                position=position,
            )

    def tick(self, tenant: str, dedup_keys: Sequence[str], at: Millis) -> int:
        """Let time reach ``at`` for some alerts of a tenant; returns the decisions recorded.

        The tick itself is recorded as an input, once: the same ``(tenant, at)`` twice is a
        no-op, so a scheduler that retries never double-runs a tick.

        Raises:
            StoreUnavailable: the store cannot be reached.
            ConcurrencyConflict: still conflicting after several reloads.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            context = self._context(tenant)
            working = engine.Working(alerts={}, groups={})
            versions: dict[uuid.UUID, int] = {}
            for key in dedup_keys:
                self._load_alert(working, versions, (tenant, key))
            for key in dedup_keys:
                self._apply(
                    working,
                    versions,
                    partial(engine.apply_tick, key=(tenant, key), at=at, context=context),
                )
            record = TickReceived(
                tenant=tenant,
                at=at,
                dedup_keys=tuple(dedup_keys),
                ruleset_version=context.ruleset.version,
                silences_version=context.silences_version,
                engine_version=context.engine_version,
            )
            intake = StreamAppend(
                stream_id=uuid.UUID(tick_stream(tenant, at)), expected_version=0, events=(record,)
            )
            batch = _batch(working, versions, (f"tick/{tenant}/{at}",), (intake,))
            try:
                self._store.append(batch)
            except DuplicateInput:
                return 0  # this tick was already recorded: time only moves once
            except ConcurrencyConflict as exc:
                self._cache.forget(exc.stream_ids)
                if attempt == MAX_ATTEMPTS:
                    raise
                _backoff(attempt)
                continue
            _remember(self._cache, working, versions)
            self._snapshot(working, versions)
            return sum(len(s.events) for s in batch.streams) - 1
        return 0

    def alert_state(self, tenant: str, dedup_key: str) -> tuple[alert.AlertState, int]:
        """An alert's state and stream version, loaded as a decision loads it: from the cache,
        else from the latest snapshot and the events after it (counted in ``stats``).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        working = engine.Working(alerts={}, groups={})
        versions: dict[uuid.UUID, int] = {}
        self._load_alert(working, versions, (tenant, dedup_key))
        return working.alerts[(tenant, dedup_key)], versions[engine.alert_stream(tenant, dedup_key)]

    def context(self, tenant: str) -> engine.TenantContext:
        """The rules and silences in force for a tenant now."""
        return self._context(tenant)

    # ------------------------------------------------------------------ internals

    def _plan(self, envelopes: list[Envelope]) -> _Plan:
        contexts = {tenant: self._context(tenant) for tenant in {e.tenant for e in envelopes}}
        outcomes = [
            (
                e,
                normalize(
                    e,
                    contexts[e.tenant].ruleset,
                    decode=self._decode,
                    version=contexts[e.tenant].engine_version,
                ),
            )
            for e in envelopes
        ]
        working = engine.Working(alerts={}, groups={})
        versions: dict[uuid.UUID, int] = {}
        signals = [
            s for _, result in outcomes if isinstance(result, Normalized) for s in result.signals
        ]
        for key in {(s.tenant, s.dedup_key) for s in signals}:
            self._load_alert(working, versions, key)
        for group in engine.groups_needed(signals, working, contexts):
            self._load_group(working, versions, group)
        for signal in signals:
            context = contexts[signal.tenant]
            self._apply(
                working, versions, partial(engine.apply_signal, signal=signal, context=context)
            )
        intake: list[StreamAppend] = []
        for envelope, result in outcomes:
            context = contexts[envelope.tenant]
            outcome = outcome_event(
                envelope,
                result,
                context.ruleset.version,
                context.silences_version,
                engine_version=context.engine_version,
            )
            intake.append(
                StreamAppend(
                    stream_id=uuid.UUID(envelope_stream(envelope.tenant, envelope.ingest_id)),
                    expected_version=0,
                    events=(EnvelopeReceived(envelope=envelope), outcome),
                )
            )
        batch = _batch(working, versions, [input_key(e) for e in envelopes], intake)
        return _Plan(
            batch=batch,
            working=working,
            versions=versions,
            signals=len(signals),
            rejected=sum(1 for _, r in outcomes if isinstance(r, Rejected)),
        )

    def _apply(
        self,
        working: engine.Working,
        versions: dict[uuid.UUID, int],
        step: Callable[[engine.Working], engine.Missing | None],
    ) -> None:
        missing = step(working)
        while missing is not None:
            for group in missing.groups:
                self._load_group(working, versions, group)
            missing = step(working)

    def _load_alert(
        self, working: engine.Working, versions: dict[uuid.UUID, int], key: engine.AlertKey
    ) -> None:
        stream = engine.alert_stream(*key)
        state, version = self._load(
            stream,
            alert.AlertState,
            lambda: alert.initial_state(*key),
            alert.evolve,
        )
        working.alerts[key] = state
        versions[stream] = version

    def _load_group(
        self, working: engine.Working, versions: dict[uuid.UUID, int], key: engine.GroupKey
    ) -> None:
        if key in working.groups:
            return
        stream = engine.group_stream(*key)
        state, version = self._load(
            stream,
            incident.IncidentGroup,
            lambda: incident.initial_state(*key),
            incident.evolve,
        )
        working.groups[key] = state
        versions[stream] = version

    def _load(
        self,
        stream: uuid.UUID,
        state_type: type[Any],
        initial: Callable[[], Any],
        evolve: Callable[[Any, Any], Any],
    ) -> tuple[Any, int]:
        cached = self._cache.get(stream)
        if cached:
            return cached.state, cached.version
        self.stats.loads += 1
        snapshot = self._latest_snapshot(stream, state_type)
        state, version = (snapshot.state, snapshot.version) if snapshot else (initial(), 0)
        recorded = self._store.read_stream(stream, after_version=version)
        for item in recorded:
            state = evolve(state, item.event)
            version = item.version
        self.stats.events_read += len(recorded)
        if self._snapshots is not None and len(recorded) >= self._snapshotting.every:
            self._owed.add(stream)
        return state, version

    def _latest_snapshot(self, stream: uuid.UUID, state_type: type[Any]) -> Snapshot | None:
        """The stream's latest usable snapshot; None (read the whole stream) when there is
        none or it is unreadable, which is logged and counted, never raised."""
        if self._snapshots is None:
            return None
        try:
            snapshot = self._snapshots.load_snapshot(stream, state_type)
        except SnapshotUnreadable as refused:
            self.stats.snapshots_refused += 1
            _log.warning(
                "ingest.snapshot_refused",
                stream=str(stream),
                version=refused.version,
                reason=refused.reason,
                error=str(refused),
            )
            return None
        except EventStoreError as error:
            # E.g. a PostgreSQL schema migrated before snapshots existed: the stream is whole.
            self.stats.snapshots_refused += 1
            _log.warning("ingest.snapshot_unavailable", stream=str(stream), error=str(error))
            return None
        self.stats.snapshots_used += snapshot is not None
        return snapshot

    def _snapshot(self, working: engine.Working, versions: dict[uuid.UUID, int]) -> None:
        """After a commit, snapshot each state whose stream crossed a multiple of ``every``
        events (or that was loaded from too far back); best effort, as snapshots are a cache."""
        if self._snapshots is None:
            return
        every = self._snapshotting.every
        due: list[Snapshot] = []
        states: list[tuple[uuid.UUID, Any]] = [
            *((engine.alert_stream(*key), state) for key, state in working.alerts.items()),
            *((engine.group_stream(*key), state) for key, state in working.groups.items()),
        ]
        for stream, state in states:
            before = versions.get(stream, 0)
            after = before + len(working.events.get(stream, ()))
            if after and (after // every > before // every or stream in self._owed):
                # Not what an alert's runs let go of and still share with older states.
                kept = alert.trimmed(state) if isinstance(state, alert.AlertState) else state
                due.append(Snapshot(stream_id=stream, version=after, state=kept))
        self._owed.clear()
        if not due:
            return
        try:
            self._snapshots.save_snapshots(due, keep=self._snapshotting.keep)
        except EventStoreError as error:
            self.stats.snapshot_write_failures += 1
            _log.warning("ingest.snapshot_write_failed", snapshots=len(due), error=str(error))
            return
        self.stats.snapshots_written += len(due)

    def _context(self, tenant: str) -> engine.TenantContext:
        rules = ruleset_stream.initial_state(tenant)
        for item in self._store.read_stream(engine.ruleset_stream(tenant)):
            rules = ruleset_stream.evolve(rules, item.event)
        silences = silence.initial_state(tenant)
        silences_version = 0
        for item in self._store.read_stream(engine.silences_stream(tenant)):
            silences = silence.evolve(silences, item.event)
            silences_version = item.version
        return engine.TenantContext(
            ruleset=rules.current,
            silences=silences.silences,
            silences_version=silences_version,
            engine_version=versions.CURRENT,  # new inputs: today's behaviour, recorded with them
        )


@attrs.define
class _Plan:
    batch: AppendBatch
    working: engine.Working
    versions: dict[uuid.UUID, int]
    signals: int
    rejected: int

    @property
    def events(self) -> int:
        return sum(len(s.events) for s in self.batch.streams)

    def remember(self, cache: StateCache) -> None:
        _remember(cache, self.working, self.versions)


def _batch(
    working: engine.Working,
    versions: dict[uuid.UUID, int],
    keys: Sequence[str],
    intake: Sequence[StreamAppend] = (),
) -> AppendBatch:
    streams = [
        StreamAppend(
            stream_id=stream, expected_version=versions.get(stream, 0), events=tuple(events)
        )
        for stream, events in working.events.items()
        if events
    ]
    return AppendBatch(streams=(*intake, *streams), input_keys=tuple(keys))


def _remember(cache: StateCache, working: engine.Working, versions: dict[uuid.UUID, int]) -> None:
    for key, state in working.alerts.items():
        stream = engine.alert_stream(*key)
        cache.put(stream, state, versions.get(stream, 0) + len(working.events.get(stream, ())))
    for key, group in working.groups.items():
        stream = engine.group_stream(*key)
        cache.put(stream, group, versions.get(stream, 0) + len(working.events.get(stream, ())))


def _distinct(envelopes: Sequence[Envelope]) -> Iterable[Envelope]:
    seen: set[str] = set()
    for envelope in envelopes:
        key = input_key(envelope)
        if key not in seen:
            seen.add(key)
            yield envelope
