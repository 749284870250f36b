"""Verify: replay the recorded inputs in log order and compare every decision byte for byte.

The ingest use case writes, per transaction, each envelope's ``EnvelopeReceived`` and outcome,
then the alert and incident-group streams' decisions; a tick writes its ``TickReceived`` and
then its decisions. So replaying an input fills, per stream, a queue of the decisions the log
must hold next; every recorded decision read afterwards must equal the head of its stream's
queue, and when the next input starts, every queue must be empty.

Recorded decisions are not decoded: the recomputed decision is encoded and compared with the
stored bytes themselves. Only when they differ is the recorded event decoded (through the
store, so upcasters apply) and compared again, so a decision stored under an older schema
version, or compressed by another zstd release, is not mistaken for a divergence.

Then every snapshot is compared with its stream evolved up to the snapshot's version
(``helios.apps.application.replay.snapshots``): cold loads start from snapshots, so a wrong one is a
divergence of kind ``snapshot``.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable

import orjson

from helios.adapters.store.codec import EventCodec
from helios.apps.application.replay.deciding import decide_signal, decide_tick
from helios.apps.application.replay.history import (
    TenantHistory,
    UnknownVersion,
    checked_engine_version,
)
from helios.apps.application.replay.log import (
    CachedStates,
    Window,
    is_decision,
    pages,
    without_automatic_collection,
)
from helios.apps.application.replay.results import Divergence, VerifyReport, plain
from helios.apps.application.replay.snapshots import check_snapshots
from helios.apps.application.replay.states import DEFAULT_CAPACITY
from helios.domain import engine, incident
from helios.domain.intake import (
    ChangeRecorded,
    ControlReceived,
    EnvelopeNormalized,
    EnvelopeReceived,
    EnvelopeRejected,
    TickReceived,
    outcome_event,
)
from helios.domain.normalize import Normalized, normalize
from helios.domain.values import Envelope
from helios.ports.event_store import EventStore, LogEntry

Progress = Callable[[int, int], None]
"""Called after each page with (position reached, last position of the log)."""
_Outcome = EnvelopeNormalized | EnvelopeRejected | ChangeRecorded | ControlReceived


DIRECT_INPUTS = frozenset({incident.IncidentNoteAdded.NAME})  # type: ignore[attr-defined]
"""Events people append to decision streams directly; replayed as inputs."""


class Verifier:
    """One streaming verify run over a store (see ``helios.replay.verify``)."""

    def __init__(
        self,
        store: EventStore,
        *,
        window: Window,
        page_size: int = 1_000,
        capacity: int = DEFAULT_CAPACITY,
        max_divergences: int = 100,
    ) -> None:
        self._store = store
        self._window = window
        self._page_size = page_size
        self._max_divergences = max_divergences
        self._codec = EventCodec()
        self._history = TenantHistory()
        self._states = CachedStates(store, capacity=capacity)
        self._queues: dict[uuid.UUID, deque[tuple[object, int]]] = {}
        self._pending: dict[uuid.UUID, tuple[Envelope, int]] = {}
        # Inputs of the current transaction read before the window opened: if the window
        # opens within it, they are replayed too (their decisions share the same appends).
        self._phase: list[tuple[LogEntry, Envelope | None]] = []
        self._in_decisions = False
        self._verifying = window.since is None
        self._divergences: list[Divergence] = []
        self._count = 0
        self.inputs = self.events = self.decisions = 0

    def run(self, progress: Progress | None = None) -> VerifyReport:
        """Read the whole log (or up to the window's end) and compare.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        started = time.perf_counter()
        last = 0
        try:
            with without_automatic_collection():
                for entries, end in pages(self._store, self._page_size, encoded=_left_encoded):
                    for entry in entries:
                        if not self._take(entry):
                            break
                        last = entry.position
                    else:
                        if progress is not None:
                            progress(last, end)
                        continue
                    break
                self._end_phase(last)
                snapshots = check_snapshots(self._store, tenant=self._window.tenant)
        finally:
            self._states.close()
        for divergence in snapshots.divergences:
            self._record(divergence)
        return VerifyReport(
            inputs=self.inputs,
            events=self.events,
            decisions=self.decisions,
            divergence_count=self._count,
            divergences=tuple(self._divergences),
            elapsed_s=time.perf_counter() - started,
            last_position=last,
            states_rebuilt=self._states.rebuilds,
            states_reloaded=self._states.reloads,
            snapshots_checked=snapshots.checked,
            snapshots_skipped=snapshots.skipped,
        )

    # ------------------------------------------------------------------ log entries

    def _take(self, entry: LogEntry) -> bool:
        """Handle one log entry; False when the window has ended."""
        if entry.name in DIRECT_INPUTS:
            # A person's note, appended straight to an incident group's stream: an input, not
            # a decision, and one that changes no state any decision depends on.
            if self._in_decisions:
                self._end_phase(entry.position)
            self.events += 1
            self.inputs += 1
            self._states.advance(entry.stream_id, entry.version, keep_state=True)
            return True
        if is_decision(entry.name):
            self.events += 1
            self._in_decisions = True
            self._recorded(entry)
            return True
        if self._in_decisions:
            self._end_phase(entry.position)
        event = entry.event
        at = _input_time(event)
        if at is not None and self._window.ended(at) and not self._phase:
            return False
        self.events += 1
        if self._history.observe(entry.stream_id, entry.version, event):
            self.inputs += 1
            return True
        match event:
            case EnvelopeReceived(envelope=envelope):
                self.inputs += 1
                self._pending[entry.stream_id] = (envelope, entry.position)
            case EnvelopeNormalized() | EnvelopeRejected() | ChangeRecorded() | ControlReceived():
                found = self._pending.pop(entry.stream_id, None)
                self._input(entry, found[0] if found else None)
            case TickReceived():
                self.inputs += 1
                self._input(entry, None)
        return True

    def _input(self, entry: LogEntry, envelope: Envelope | None) -> None:
        tenant = envelope.tenant if envelope else getattr(entry.event, "tenant", "")
        at = envelope.received_at if envelope else getattr(entry.event, "at", 0)
        if not self._verifying:
            if not self._window.selects(tenant, at):
                self._phase.append((entry, envelope))
                return
            self._verifying = True
            for earlier, earlier_envelope in self._phase:
                self._replay(earlier, earlier_envelope)
        self._phase.append((entry, envelope))
        if self._window.tenant in (None, tenant):
            self._replay(entry, envelope)

    def _replay(self, entry: LogEntry, envelope: Envelope | None) -> None:
        event = entry.event
        try:
            if isinstance(event, TickReceived):
                context = self._history.context(
                    event.tenant,
                    event.ruleset_version,
                    event.silences_version,
                    event.engine_version,
                    event.flags_version,
                )
                for key in event.dedup_keys:
                    working = decide_tick(self._states, event.tenant, key, event.at, context)
                    self._expect(working, entry.position)
            elif envelope is None:
                self._diverged(entry, "unreplayable", None, message="outcome without its envelope")
            else:
                self._renormalize(entry, envelope)
        except UnknownVersion as error:
            self._diverged(entry, "unreplayable", None, message=str(error))

    def _renormalize(self, entry: LogEntry, envelope: Envelope) -> None:
        recorded: _Outcome = entry.event
        if isinstance(recorded, ControlReceived):
            version, silences_version = self._history.latest_ruleset(envelope.tenant).version, 0
        else:
            version = recorded.ruleset_version
            silences_version = getattr(recorded, "silences_version", 0)
        flags_version = getattr(recorded, "flags_version", 0)
        # Normalized again by the engine version that normalized it, so history recorded
        # before a change of normalization still compares equal.
        engine_version = checked_engine_version(recorded.engine_version)
        ruleset = self._history.ruleset(envelope.tenant, version)
        result = normalize(envelope, ruleset, decode=orjson.loads, version=engine_version)
        recomputed = outcome_event(
            envelope,
            result,
            version,
            silences_version,
            engine_version=engine_version,
            flags_version=flags_version,
        )
        if not self._same(recorded, recomputed):
            self._diverged(entry, "outcome", recomputed)
        if isinstance(result, Normalized) and result.signals:
            context = self._history.context(
                envelope.tenant, version, silences_version, engine_version, flags_version
            )
            for signal in result.signals:
                self._expect(decide_signal(self._states, signal, context), entry.position)

    def _expect(self, working: engine.Working, origin: int) -> None:
        for stream, decided in working.events.items():
            queue = self._queues.get(stream)
            if queue is None:
                queue = self._queues[stream] = deque()
            queue.extend((item, origin) for item in decided)
        self._states.keep(working)

    def _recorded(self, entry: LogEntry) -> None:
        queue = self._queues.get(entry.stream_id)
        if queue is None:
            # Not replayed here: before the window, or another tenant's (when filtering).
            if self._verifying and self._window.tenant is None:
                self.decisions += 1
                self._diverged(entry, "unexpected", None)
            self._states.advance(entry.stream_id, entry.version, keep_state=False)
            return
        self.decisions += 1
        self._states.advance(entry.stream_id, entry.version, keep_state=True)
        if not queue:
            self._diverged(entry, "unexpected", None)
            return
        expected, origin = queue.popleft()
        if not self._matches(entry, expected):
            self._diverged(entry, "changed", expected, origin=origin)

    def _end_phase(self, position: int) -> None:
        for stream, queue in self._queues.items():
            for expected, origin in queue:
                self._record(
                    Divergence(
                        kind="missing",
                        position=position,
                        stream_id=str(stream),
                        version=None,
                        name=getattr(type(expected), "NAME", ""),
                        recomputed=plain(expected),
                        input_position=origin,
                        message="recomputed but not recorded",
                    )
                )
        self._queues.clear()
        self._phase.clear()
        self._in_decisions = False
        self._states.evict()

    # ------------------------------------------------------------------ comparing

    def _same(self, recorded: object, recomputed: object) -> bool:
        return self._codec.encode(recorded) == self._codec.encode(recomputed)

    def _matches(self, entry: LogEntry, recomputed: object) -> bool:
        """Whether a recorded decision (left encoded) is the recomputed one, byte for byte."""
        if (entry.name, entry.encoded) == self._codec.encode(recomputed):
            return True
        return self._same(self._event(entry), recomputed)

    def _event(self, entry: LogEntry) -> object:
        """The entry's domain event, decoded (and upcast) by the store if it was left encoded."""
        if entry.encoded is None:
            return entry.event
        for recorded in self._store.read_stream(entry.stream_id, entry.version - 1):
            if recorded.version == entry.version:
                return recorded.event
        return None

    def _diverged(
        self,
        entry: LogEntry,
        kind: str,
        recomputed: object,
        *,
        origin: int | None = None,
        message: str = "",
    ) -> None:
        self._record(
            Divergence(
                kind=kind,
                position=entry.position,
                stream_id=str(entry.stream_id),
                version=entry.version,
                name=entry.name,
                recorded=plain(self._event(entry)),
                recomputed=plain(recomputed),
                input_position=origin,
                message=message,
            )
        )

    def _record(self, divergence: Divergence) -> None:
        self._count += 1
        if len(self._divergences) < self._max_divergences:
            self._divergences.append(divergence)


def _left_encoded(name: str) -> bool:
    """Decisions are compared as stored bytes; inputs (notes included) are decoded."""
    return is_decision(name) and name not in DIRECT_INPUTS


def _input_time(event: object) -> int | None:
    match event:
        case EnvelopeReceived(envelope=envelope):
            return envelope.received_at
        case TickReceived(at=at):
            return at
    return None
