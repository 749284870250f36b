"""What-if: replay a window of history under other rules, without writing, and compare.

History before the window is taken as recorded (states rebuilt from the store); inside the
window every input is decided again under the candidate ruleset, from the recorded states, and
compared with what the log recorded for the same alerts (the baseline: the decisions are read,
not decided again, which is what ``verify`` proves they would be). The candidate keeps its
states in a bounded cache (spilled to disk), falling back to the recorded states for alerts it
has not touched yet; what grows with the window is only the report: a tally per alert touched
and the notifications requested.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import attrs
import orjson

from helios.apps.application.replay.deciding import decide_signal, decide_tick
from helios.apps.application.replay.history import TenantHistory
from helios.apps.application.replay.log import (
    CachedStates,
    Window,
    is_decision,
    pages,
    without_automatic_collection,
)
from helios.apps.application.replay.states import DEFAULT_CAPACITY
from helios.domain import alert, engine, incident
from helios.domain.intake import EnvelopeNormalized, EnvelopeReceived, TickReceived
from helios.domain.normalize import Normalized, normalize
from helios.domain.patterns import RegexEngine
from helios.domain.ruleset import Ruleset
from helios.domain.scoring import Factor
from helios.domain.values import Envelope, Priority, Signal
from helios.ports.event_store import EventStore, LogEntry

AlertKey = tuple[str, str]


@attrs.frozen(kw_only=True)
class Notification:
    """A notification one side requested: who, which episode, why, at which priority."""

    tenant: str
    dedup_key: str
    episode_id: str
    reason: str
    priority: str | None


@attrs.frozen(kw_only=True)
class AlertChange:
    """An alert whose priority differs under the candidate rules, with both explanations."""

    tenant: str
    dedup_key: str
    before: str | None
    """Highest priority reached in the window as recorded (None: never scored)."""
    after: str | None
    before_score: int | None
    after_score: int | None
    before_factors: tuple[Factor, ...]
    after_factors: tuple[Factor, ...]


@attrs.frozen(kw_only=True)
class WhatIfReport:
    """What the candidate ruleset would have changed in the window."""

    ruleset_version: int
    inputs: int
    alerts: int
    before: dict[str, int]
    """Alerts per highest priority reached in the window, as recorded."""
    after: dict[str, int]
    would_notify: tuple[Notification, ...]
    """Notifications the candidate rules would have sent that were not sent."""
    would_not_notify: tuple[Notification, ...]
    """Notifications that were sent and the candidate rules would not have sent."""
    changes: tuple[AlertChange, ...]
    elapsed_s: float

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.would_notify or self.would_not_notify)


@attrs.define
class _Tally:
    highest: Priority | None = None
    last: alert.AlertScored | alert.AlertTriggered | alert.AlertReopened | None = None
    """The last decision that scored the alert."""


class _Tallies:
    """What one side decided in the window: per alert its highest priority and last score,
    and the notifications it requested."""

    def __init__(self) -> None:
        self.tallies: dict[AlertKey, _Tally] = {}
        self.notifications: dict[tuple[str, str, str, str], Notification] = {}

    def count(self, key: AlertKey, event: object) -> None:
        tally = self.tallies.setdefault(key, _Tally())
        if alert.scores(event):
            # An ``AlertScored``, or the opening of an episode scored as it opened.
            tally.last, priority = event, event.priority
            if priority is not None and (
                tally.highest is None or priority.urgency > tally.highest.urgency
            ):
                tally.highest = priority
            return
        match event:
            case alert.NotificationRequested(episode_id=episode_id, reason=reason):
                note = Notification(
                    tenant=key[0],
                    dedup_key=key[1],
                    episode_id=episode_id,
                    reason=reason,
                    priority=event.priority.value if event.priority else None,
                )
                self.notifications[(key[0], key[1], episode_id, reason)] = note


class _Recorded(_Tallies):
    """The baseline: the decisions the log recorded for the alerts the window's inputs touched."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[uuid.UUID, AlertKey] = {}

    def watch(self, key: AlertKey) -> None:
        """Count the recorded decisions of this alert from now on."""
        if key not in self.tallies:
            self._keys[alert.alert_stream_id(*key)] = key
            self.tallies[key] = _Tally()

    def take(self, entry: LogEntry) -> None:
        key = self._keys.get(entry.stream_id)
        if key is not None and entry.encoded is None:
            self.count(key, entry.event)


class _Side(_Tallies):
    """The candidate's replay of the window: its own states (seeded from history) and what it
    decided."""

    def __init__(self, store: EventStore, seed: CachedStates, capacity: int) -> None:
        super().__init__()
        self._states = CachedStates(store, capacity=capacity, starting_from=seed)

    def alert(self, key: AlertKey) -> alert.AlertState:
        return self._states.alert(key)

    def group(self, key: engine.GroupKey) -> incident.IncidentGroup:
        return self._states.group(key)

    def evict(self) -> None:
        self._states.evict()

    def close(self) -> None:
        self._states.close()

    def signal(self, signal: Signal, context: engine.TenantContext) -> None:
        self._take((signal.tenant, signal.dedup_key), decide_signal(self, signal, context))

    def tick(self, tenant: str, key: str, at: int, context: engine.TenantContext) -> None:
        self._take((tenant, key), decide_tick(self, tenant, key, at, context))

    def _take(self, key: AlertKey, working: engine.Working) -> None:
        self._states.keep(working)
        self.tallies.setdefault(key, _Tally())
        for event in working.events.get(alert.alert_stream_id(*key), ()):
            self.count(key, event)


def what_if(
    store: EventStore,
    *,
    rules: Ruleset,
    window: Window,
    page_size: int = 1_000,
    capacity: int = DEFAULT_CAPACITY,
    progress: Callable[[int, int], None] | None = None,
) -> WhatIfReport:
    """Replay the window under ``rules`` (for ``window.tenant``, or every tenant) and compare.

    The candidate's patterns are read by RE2, as they would be once published, even for
    inputs recorded before RE2; the baseline is what the log recorded for the same alerts.

    Raises:
        UnknownVersion: an input names rules the log never published.
        StoreUnavailable: the store cannot be reached.
    """
    started = time.perf_counter()
    rules = attrs.evolve(rules, regex_engine=RegexEngine.RE2)
    run = _Run(store, rules=rules, window=window, capacity=capacity)
    try:
        with without_automatic_collection():
            for entries, end in pages(store, page_size, encoded=_left_encoded):
                for entry in entries:
                    run.take(entry)
                    if run.past_window:
                        return run.report(started)
                if progress is not None and entries:
                    progress(entries[-1].position, end)
            return run.report(started)
    finally:
        run.close()


_COUNTED: frozenset[str] = frozenset(
    {
        alert.AlertScored.NAME,  # type: ignore[attr-defined]
        alert.AlertTriggered.NAME,  # type: ignore[attr-defined]
        alert.AlertReopened.NAME,  # type: ignore[attr-defined]
        alert.NotificationRequested.NAME,  # type: ignore[attr-defined]
    }
)
"""The recorded decisions the baseline counts: decoded; every other decision stays encoded."""


def _left_encoded(name: str) -> bool:
    return is_decision(name) and name not in _COUNTED


class _Run:
    """The log read once, in order: history rebuilt up to the window, then each input in the
    window decided by both sides."""

    def __init__(self, store: EventStore, *, rules: Ruleset, window: Window, capacity: int) -> None:
        self.rules = rules
        self.window = window
        self.history = TenantHistory()
        self.seed = CachedStates(store, capacity=capacity)
        self.baseline = _Recorded()
        self.candidate = _Side(store, self.seed, capacity)
        self.envelopes: dict[uuid.UUID, Envelope] = {}
        self.inputs = 0
        self.opened = False
        """Whether an input of the window was decided: the sides' states are in use."""
        self.past_window = False
        """Whether an input recorded after the window was met: the rest is not read."""

    def take(self, entry: LogEntry) -> None:
        """Follow one log entry: a recorded decision, a change of rules or silences, or an
        input (decided by both sides when in the window)."""
        if is_decision(entry.name):
            # Before the window the sides start from the recorded states: note how far each
            # stream went (its state is rebuilt from the store when a side first needs it).
            if not self.opened:
                self.seed.advance(entry.stream_id, entry.version, keep_state=False)
            else:
                self.baseline.take(entry)
            return
        if self.history.observe(entry.stream_id, entry.version, entry.event):
            return
        if not self._input(entry):
            return
        self.seed.evict()
        if self.opened:
            self.candidate.evict()

    def _input(self, entry: LogEntry) -> bool:
        """Decide an input entry; False when it was a normalized envelope left out of the
        window (nothing was loaded for it)."""
        match entry.event:
            case EnvelopeReceived(envelope=envelope):
                self.envelopes[entry.stream_id] = envelope
            case EnvelopeNormalized() as normalized:
                received = self.envelopes.pop(entry.stream_id, None)
                if received is None or not self.window.selects(
                    received.tenant, received.received_at
                ):
                    if received is not None and self.window.ended(received.received_at):
                        self.past_window = True
                    return False
                self._envelope(received, normalized)
            case TickReceived(tenant=tenant, at=at) as tick if self.window.selects(tenant, at):
                self._tick(tick)
            case _:
                self.envelopes.pop(entry.stream_id, None)
        return True

    def _envelope(self, envelope: Envelope, recorded: EnvelopeNormalized) -> None:
        """The baseline counts what the log decided for the recorded signals' alerts; the
        candidate normalizes the envelope again under its rules and decides those."""
        context = self._context(envelope.tenant, recorded)
        for signal in recorded.signals:
            self.baseline.watch((signal.tenant, signal.dedup_key))
        # Only the rules differ: normalized and decided with the engine version the input was
        # recorded with, like the baseline.
        other = attrs.evolve(context, ruleset=self.rules)
        result = normalize(
            envelope, self.rules, decode=orjson.loads, version=context.engine_version
        )
        if isinstance(result, Normalized):
            for signal in result.signals:
                self.candidate.signal(signal, other)

    def _tick(self, tick: TickReceived) -> None:
        context = self._context(tick.tenant, tick)
        other = attrs.evolve(context, ruleset=self.rules)
        for key in tick.dedup_keys:
            self.baseline.watch((tick.tenant, key))
            self.candidate.tick(tick.tenant, key, tick.at, other)

    def _context(
        self, tenant: str, recorded: EnvelopeNormalized | TickReceived
    ) -> engine.TenantContext:
        """The context the input was recorded with; counts the input and opens the window."""
        self.opened = True
        self.inputs += 1
        return self.history.context(
            tenant,
            recorded.ruleset_version,
            recorded.silences_version,
            recorded.engine_version,
            recorded.flags_version,
        )

    def report(self, started: float) -> WhatIfReport:
        return _report(self.rules, self.inputs, self.baseline, self.candidate, started)

    def close(self) -> None:
        self.candidate.close()
        self.seed.close()


def _report(
    rules: Ruleset, inputs: int, baseline: _Tallies, candidate: _Side, started: float
) -> WhatIfReport:
    keys = sorted(set(baseline.tallies) | set(candidate.tallies))
    changes = []
    for key in keys:
        before = baseline.tallies.get(key, _Tally())
        after = candidate.tallies.get(key, _Tally())
        if before.highest is after.highest and _score(before) == _score(after):
            continue
        changes.append(
            AlertChange(
                tenant=key[0],
                dedup_key=key[1],
                before=before.highest.value if before.highest else None,
                after=after.highest.value if after.highest else None,
                before_score=_score(before),
                after_score=_score(after),
                before_factors=before.last.factors if before.last else (),
                after_factors=after.last.factors if after.last else (),
            )
        )
    sent, would = baseline.notifications, candidate.notifications
    return WhatIfReport(
        ruleset_version=rules.version,
        inputs=inputs,
        alerts=len(keys),
        before=_counts(baseline),
        after=_counts(candidate),
        would_notify=tuple(would[k] for k in sorted(set(would) - set(sent))),
        would_not_notify=tuple(sent[k] for k in sorted(set(sent) - set(would))),
        changes=tuple(changes),
        elapsed_s=time.perf_counter() - started,
    )


def _score(tally: _Tally) -> int | None:
    return tally.last.score if tally.last else None


def _counts(side: _Tallies) -> dict[str, int]:
    counts = {p.value: 0 for p in Priority}
    for tally in side.tallies.values():
        if tally.highest is not None:
            counts[tally.highest.value] += 1
    return counts
