"""Ingest a batch of envelopes: normalize → load → decide → append, in one transaction.

Throughput comes from batching: a whole batch of envelopes (and every alert, incident and
intake stream it touches, with one idempotency marker per envelope) is appended in a single
store transaction. A redelivered envelope is dropped from the batch and the rest retried; a
concurrency conflict reloads the streams involved and decides again.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import orjson

from helios.apps.application.repository import (
    ALERT,
    FLAGS,
    INCIDENT_GROUP,
    RULESET,
    SILENCES,
    Loaded,
    LoadStats,
    Repository,
    Snapshotting,
    StateCache,
)
from helios.domain import alert, engine, versions
from helios.domain.intake import (
    EnvelopeReceived,
    TickReceived,
    envelope_stream,
    outcome_event,
    tick_stream,
)
from helios.domain.normalize import Normalized, Rejected, normalize
from helios.domain.values import Envelope, Millis
from helios.ports.event_store import AppendBatch, DuplicateInput, EventStore, StreamAppend
from helios.ports.snapshots import SnapshotStore

__all__ = ["IngestReport", "Ingestor", "Snapshotting", "StateCache", "input_key"]

_SNAPSHOTTING = Snapshotting()

_Versions = dict[int, int]
"""The versions a batch's streams were loaded at, by the stream id's integer (it hashes in C, a
``UUID`` in Python); a stream not in it is new (version 0)."""


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
    """The log position of the batch's last domain event (0: nothing appended)."""
    appended: tuple[StreamAppend, ...] = attrs.field(default=(), eq=False, repr=False)
    """What was appended, as decided (not read back), streams in log order: the ``events``
    domain events take the positions up to ``position``, in this order (a batch's markers
    come before them), for a caller that acts on them at once."""


class Ingestor:
    """The ingest use case over an event store (synchronous; async callers use a thread).

    Alert and incident-group states come from the repository's cache as they are: every
    decision on them is appended with their version as the expectation, so a stale one
    conflicts, and the conflicting streams are caught up before the batch is decided again.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        decode: Callable[[bytes], Any] = orjson.loads,
        cache: StateCache | None = None,
        snapshots: SnapshotStore | None = None,
        snapshotting: Snapshotting = _SNAPSHOTTING,
        repository: Repository | None = None,
    ) -> None:
        """``snapshots`` defaults to the store itself when it keeps snapshots; a
        ``repository`` given replaces ``cache``, ``snapshots`` and ``snapshotting``."""
        self._repository = (
            repository
            if repository is not None
            else Repository(store, cache=cache, snapshots=snapshots, snapshotting=snapshotting)
        )
        self._decode = decode

    @property
    def stats(self) -> LoadStats:
        """What cold loads of alerts and incident groups cost so far."""
        return self._repository.stats

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

        def attempt(_: int) -> IngestReport:
            nonlocal pending, duplicates, attempts
            while True:
                attempts += 1
                if not pending:
                    return IngestReport(already_processed=duplicates, attempts=attempts)
                plan = self._plan(pending)
                try:
                    position = self._repository.commit(plan.batch, plan.loaded())
                except DuplicateInput as exc:
                    # Drop the redelivered envelopes and decide the rest again.
                    done = set(exc.keys)
                    before = len(pending)
                    pending = [e for e in pending if input_key(e) not in done]
                    duplicates += before - len(pending)
                    if len(pending) == before:
                        raise
                    continue
                return IngestReport(
                    envelopes=len(pending),
                    already_processed=duplicates,
                    signals=plan.signals,
                    rejected=plan.rejected,
                    events=plan.events,
                    attempts=attempts,
                    position=position,
                    appended=plan.batch.streams,
                )

        return self._repository.retrying(attempt)

    def tick(self, tenant: str, dedup_keys: Sequence[str], at: Millis) -> int:
        """Let time reach ``at`` for some alerts of a tenant; returns the decisions recorded.

        The tick itself is recorded as an input, once: the same ``(tenant, at)`` twice is a
        no-op, so a scheduler that retries never double-runs a tick.

        Raises:
            StoreUnavailable: the store cannot be reached.
            ConcurrencyConflict: still conflicting after several reloads.
        """

        def attempt(_: int) -> int:
            context = self._context(tenant)
            working = engine.Working(alerts={}, groups={})
            versions: _Versions = {}
            for key in dedup_keys:
                self._load_alert(working, versions, (tenant, key), max_age_s=0.0)
            for key in dedup_keys:
                tick = functools.partial(
                    engine.apply_tick, key=(tenant, key), at=at, context=context
                )
                self._apply(working, versions, tick)
            record = TickReceived(
                tenant=tenant,
                at=at,
                dedup_keys=tuple(dedup_keys),
                ruleset_version=context.ruleset.version,
                silences_version=context.silences_version,
                engine_version=context.engine_version,
                flags_version=context.flags_version,
            )
            intake = StreamAppend(
                stream_id=uuid.UUID(tick_stream(tenant, at)), expected_version=0, events=(record,)
            )
            batch = _batch(working, versions, (f"tick/{tenant}/{at}",), (intake,))
            try:
                self._repository.commit(batch, _loaded(working, versions))
            except DuplicateInput:
                return 0  # this tick was already recorded: time only moves once
            return sum(len(s.events) for s in batch.streams) - 1

        return self._repository.retrying(attempt)

    def alert_state(self, tenant: str, dedup_key: str) -> tuple[alert.AlertState, int]:
        """An alert's state and stream version, loaded as a decision loads it: from the cache,
        else from the latest snapshot and the events after it (counted in ``stats``).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self._repository.load(ALERT, (tenant, dedup_key), max_age_s=math.inf)

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
        versions: _Versions = {}
        signals = [
            s for _, result in outcomes if isinstance(result, Normalized) for s in result.signals
        ]
        keys = {(s.tenant, s.dedup_key) for s in signals}
        # New streams are at version 0, which ``versions`` need not hold.
        fresh = self._repository.preload(ALERT, keys)
        alerts = working.alerts
        for key in keys:
            state = fresh.get(key)
            if state is None:
                self._load_alert(working, versions, key)
            else:
                alerts[key] = state
        groups = engine.groups_needed(signals, working, contexts)
        fresh_groups = self._repository.preload(INCIDENT_GROUP, groups)
        working.groups.update(fresh_groups)
        for group in groups:
            self._load_group(working, versions, group)
        for signal in signals:
            step = functools.partial(
                engine.apply_signal, signal=signal, context=contexts[signal.tenant]
            )
            self._apply(working, versions, step)
        intake: list[StreamAppend] = []
        for envelope, result in outcomes:
            context = contexts[envelope.tenant]
            outcome = outcome_event(
                envelope,
                result,
                context.ruleset.version,
                context.silences_version,
                engine_version=context.engine_version,
                flags_version=context.flags_version,
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
        versions: _Versions,
        step: Callable[[engine.Working], engine.Missing | None],
    ) -> None:
        missing = step(working)
        while missing is not None:
            for group in missing.groups:
                self._load_group(working, versions, group)
            missing = step(working)

    def _load_alert(
        self,
        working: engine.Working,
        versions: _Versions,
        key: engine.AlertKey,
        *,
        max_age_s: float = math.inf,
    ) -> None:
        # A signal always appends to its alert (accepted or ignored), so a stale cached alert
        # conflicts and is caught up; a tick may append nothing: ticks load with max_age_s=0.
        state, version = self._repository.load(ALERT, key, max_age_s=max_age_s)
        working.alerts[key] = state
        versions[ALERT.stream(key).int] = version

    def _load_group(
        self, working: engine.Working, versions: _Versions, key: engine.GroupKey
    ) -> None:
        if key in working.groups:
            return
        # Caught up on every load, never trusted from the cache: a decision may read a group
        # and append nothing to it (the alert is already a member), and only streams appended
        # to are version-checked. With several workers, a group another worker changed since
        # it was cached (an incident resolved) would otherwise be decided on stale, unchecked.
        state, version = self._repository.load(INCIDENT_GROUP, key, max_age_s=0.0)
        working.groups[key] = state
        versions[INCIDENT_GROUP.stream(key).int] = version

    def _context(self, tenant: str) -> engine.TenantContext:
        # Caught up for every batch: a rule or silence change applies to the next one.
        rules, _ = self._repository.load(RULESET, tenant)
        silences, silences_version = self._repository.load(SILENCES, tenant)
        flags, flags_version = self._repository.load(FLAGS, tenant)
        return engine.TenantContext(
            ruleset=rules.current,
            silences=silences.silences,
            silences_version=silences_version,
            engine_version=versions.CURRENT,  # new inputs: today's behaviour, recorded with them
            flags=flags.values,
            flags_version=flags_version,
        )


@attrs.define
class _Plan:
    batch: AppendBatch
    working: engine.Working
    versions: _Versions
    signals: int
    rejected: int

    @property
    def events(self) -> int:
        return sum(len(s.events) for s in self.batch.streams)

    def loaded(self) -> list[Loaded]:
        return _loaded(self.working, self.versions)


def _batch(
    working: engine.Working,
    versions: _Versions,
    keys: Sequence[str],
    intake: Sequence[StreamAppend] = (),
) -> AppendBatch:
    streams = [
        StreamAppend(
            stream_id=stream, expected_version=versions.get(stream.int, 0), events=tuple(events)
        )
        for stream, events in working.events.items()
        if events
    ]
    return AppendBatch(streams=(*intake, *streams), input_keys=tuple(keys))


def _loaded(working: engine.Working, versions: _Versions) -> list[Loaded]:
    """The states a batch decided, with the versions they were decided against."""
    return [
        *(
            Loaded(kind=ALERT, key=key, state=state, version=versions.get(ALERT.stream(key).int, 0))
            for key, state in working.alerts.items()
        ),
        *(
            Loaded(
                kind=INCIDENT_GROUP,
                key=key,
                state=group,
                version=versions.get(INCIDENT_GROUP.stream(key).int, 0),
            )
            for key, group in working.groups.items()
        ),
    ]


def _distinct(envelopes: Sequence[Envelope]) -> Iterable[Envelope]:
    seen: set[str] = set()
    for envelope in envelopes:
        key = input_key(envelope)
        if key not in seen:
            seen.add(key)
            yield envelope
