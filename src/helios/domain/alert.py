"""The alert aggregate: identity ``(tenant, dedup key)``; decide / evolve over its signals.

``decide`` turns a command (a new signal, or a ``Tick`` of time) into decision events with
their reasons; ``evolve`` is total and never raises, so replaying a log cannot fail. The alert's
state is the canonical fold of its distinct signals (see ``helios.domain.fold``) plus the
bookkeeping of decisions already taken (priority, notifications, escalation, flapping clears).

From engine version 3 the state is bounded by the lateness horizon of the ruleset: it keeps the
signals at or after its watermark (the latest ``occurred_at`` minus ``lateness_horizon_ms``),
at most ``horizon_signals`` of them, and the fold of all older ones as ``base``. A signal older
than the watermark is recorded flagged ``late_beyond_horizon`` and only counted. Deciding and
evolving a signal in order costs O(1) whatever the alert's history; a late one inside the
horizon re-folds from where it sorts, in O(horizon).
"""

from __future__ import annotations

import enum
import functools
import uuid
from typing import Annotated, Any, TypeGuard

import msgspec

from helios.domain import versions
from helios.domain.events import ADDED, event
from helios.domain.fold import EMPTY, Episode, Fold, FoldPolicy, fold_all, fold_each, step
from helios.domain.identity import (
    CONTENT_ID_PREFIX,
    delivery_key,
    stable_hash,
    stream_id,
)
from helios.domain.patterns import RegexEngine, engine_for
from helios.domain.ruleset import Ruleset
from helios.domain.run import Run, empty_run
from helios.domain.scoring import Factor, Score, scored
from helios.domain.silence import Silence, matching
from helios.domain.values import (
    Action,
    Millis,
    NotificationReason,
    Priority,
    Severity,
    Signal,
    Status,
)
from helios.domain.values import order_key as _order_key

# --------------------------------------------------------------------------- state


class AlertState(msgspec.Struct, frozen=True, kw_only=True, gc=False, eq=False):
    """The state of one alert (a frozen ``msgspec.Struct``: several are built for every new
    signal, and a struct is built in C and never scanned by the garbage collector; it holds
    no cycle). Equal states hold equal fields, ``folds`` aside (derived)."""

    tenant: str
    dedup_key: str
    signals: Run[Signal] = msgspec.field(default_factory=empty_run)
    """The distinct signals inside the lateness horizon, in canonical order (every delivery of
    a content-identified one); with engine versions 1 and 2, every distinct signal."""
    policy: FoldPolicy | None = None
    base: Fold = EMPTY
    """The fold of the signals that left the horizon (``EMPTY`` while none has): the compact
    summary of the alert's history before ``signals``, episode aggregates included."""
    fold: Fold = EMPTY
    folds: Run[Fold] = msgspec.field(default_factory=empty_run)
    """The fold after each of ``signals`` (so ``folds[-1] is fold``), or empty when dropped
    (``compacted``): a late signal re-folds from where it sorts instead of from ``base``.
    Derived, hence not compared."""
    latest_trigger: Signal | None = None
    """The latest trigger in canonical order, kept when it leaves the horizon: the episode's
    summary and labels come from it, and its links and details are shown with the alert."""
    evicted_through: tuple[int, int, str] | None = None
    """The canonical order key of the last signal that left the horizon: nothing sorting
    before it can take its place in the history any more."""
    # totals, over every signal recorded (those beyond the horizon included)
    total_signals: int = 0
    late_beyond_horizon: int = 0
    """Signals recorded older than the watermark: counted, and nothing else."""
    first_signal_at: Millis | None = None
    last_signal_at: Millis | None = None
    """The latest ``occurred_at`` recorded: the watermark follows it."""
    # bookkeeping of decisions already recorded
    priority: Priority | None = None
    score: int | None = None
    scored_episode: str = ""
    flapping: bool = False
    flap_cleared_at: Millis | None = None
    silenced_by: tuple[str, ...] = ()
    group_key: str = ""
    escalated_episode: str = ""
    notified_episode: str = ""
    notified_urgency: int = 0
    notifications: int = 0

    def __eq__(self, other: object) -> bool:
        if type(other) is not AlertState:
            return NotImplemented
        return all(
            getattr(self, name) == getattr(other, name)
            for name in _STATE_FIELDS
            if name != "folds"  # derived: dropped by ``compacted``, compared through ``fold``
        )

    def __ne__(self, other: object) -> bool:
        # Spelled out: a struct without generated equality would compare identities here.
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    @property
    def episode(self) -> Episode | None:
        return self.fold.episode

    @property
    def status(self) -> Status | None:
        return self.fold.episode.status if self.fold.episode else None

    @property
    def seen(self) -> frozenset[str]:
        """``identity.delivery_key`` of each of ``signals`` (built on each call)."""
        return frozenset(delivery_key(s.signal_id, s.occurred_at) for s in self.signals)

    def watermark(self, policy: FoldPolicy) -> Millis | None:
        """The time before which a signal is beyond ``policy``'s horizon (None: no horizon,
        or no signal yet)."""
        if not policy.bounded or self.last_signal_at is None:
            return None
        return self.last_signal_at - policy.horizon_ms

    def beyond_horizon(self, signal: Signal, policy: FoldPolicy) -> bool:
        """Whether ``signal`` is older than the watermark, or sorts before a signal that
        already left the horizon: it can no longer take its place in the history."""
        # ``watermark`` spelled out: asked for every new signal.
        last_at = self.last_signal_at
        if policy.horizon_ms <= 0 or last_at is None:
            return False
        if signal.occurred_at < last_at - policy.horizon_ms:
            return True
        return self.evicted_through is not None and _order_key(signal) <= self.evicted_through

    def holds(self, signal: Signal) -> bool:
        """Whether this very delivery is already among ``signals`` (O(log n)).

        Its order key tells: a time-bound id hashes the time and the action, and a
        content-identified delivery is told apart by its time."""
        signals = self.signals
        last = signals.last()
        if (
            last is not None
            and last.signal_id == signal.signal_id
            and last.occurred_at == signal.occurred_at
            and last.action is signal.action
        ):
            # The latest delivery again (the other member of an HA pair, a repeat): the
            # commonest duplicate, told without a search.
            return True
        if last is None:
            return False
        key = _order_key(signal)
        if key > _order_key(last):
            return False  # sorts after every signal held (a new one in order): no search
        # A copy that arrived a few signals late (the second member of an HA pair after the
        # first delivered its next ones) is found just before the end: looked for there first.
        items, start, stop = signals.items, signals.start, signals.stop
        floor = stop - _NEAR_END if stop - _NEAR_END > start else start  # ``max``, spelled out
        for position in range(stop - 2, floor - 1, -1):
            held = items[position]
            if (
                held.signal_id == signal.signal_id
                and held.occurred_at == signal.occurred_at
                and held.action is signal.action
            ):
                return True
        index = signals.bisect_left(key, _order_key)
        return index < len(signals) and _order_key(signals[index]) == key

    def notified_urgency_for(self, episode_id: str) -> int:
        """The urgency already notified for this episode (0: nothing notified yet)."""
        return self.notified_urgency if self.notified_episode == episode_id else 0


_STATE_FIELDS: tuple[str, ...] = AlertState.__struct_fields__
_NEAR_END = 5
"""How many of the latest signals ``holds`` compares one by one before it bisects."""


def initial_state(tenant: str, dedup_key: str) -> AlertState:
    return AlertState(tenant=tenant, dedup_key=dedup_key)


# Asked for every signal decided: memoized on the key itself (bounded), which spares
# building the name that ``stream_id`` hashes.
@functools.lru_cache(maxsize=1 << 13)
def alert_stream_id(tenant: str, dedup_key: str) -> uuid.UUID:
    """The stream of one alert: its signals and the decisions taken on them."""
    return stream_id("alert", tenant, dedup_key)


# --------------------------------------------------------------------------- commands
# Frozen structs, built for every new signal: a struct is built in C (an attrs class sets each
# field in Python) and never tracked by the garbage collector.


class IngestSignal(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Apply one normalized signal under the tenant's current rules and silences, with the
    behaviour of ``engine_version`` (see ``helios.domain.versions``)."""

    signal: Signal
    ruleset: Ruleset
    silences: tuple[Silence, ...] = ()
    engine_version: int = versions.CURRENT


class Tick(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Time has reached ``at``: escalations fall due, flapping clears."""

    at: Millis
    ruleset: Ruleset
    silences: tuple[Silence, ...] = ()
    engine_version: int = versions.CURRENT


AlertCommand = IngestSignal | Tick

# --------------------------------------------------------------------------- events
# The decisions are frozen ``msgspec.Struct``s: built in C, and never tracked by the garbage
# collector (an event holds no cycle), which otherwise scans every decision a batch holds
# until it is appended. Their fields are declared in name order, the order in which msgspec
# wrote them when they were attrs classes, so records keep their bytes. A field added since
# records were made is marked ``ADDED`` on its type, which the store's codec reads.


@event("helios.alert.signal_accepted.v1")
class SignalAccepted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A new distinct signal joined the alert's set (``late``: older than the episode start).

    ``late_beyond_horizon`` (engine version 3 on): the signal is older than the alert's
    watermark, so it is only recorded and counted; it changes neither the alert's signals nor
    its status, and no decision follows it."""

    late: bool = False
    late_beyond_horizon: Annotated[bool, ADDED] = False
    policy: FoldPolicy
    signal: Signal


@event("helios.alert.signal_repeated.v1")
class SignalRepeated(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Another copy of a content-identified signal the open episode already has (the other
    member of an HA pair, a resend): a duplicate for the record, adding no occurrence. It is
    kept with its time all the same, so that a resolve arriving later, from between the two
    copies, still makes this one the trigger of a new episode."""

    policy: FoldPolicy
    signal: Signal


class IgnoredBecause(enum.StrEnum):
    """Why a signal made no alert (a ``StrEnum``: records store the value, as when it was a
    plain ``str``)."""

    NEVER_TRIGGERED = "never_triggered"


class SuppressedBecause(enum.StrEnum):
    """Why a notification was held back (a ``StrEnum``: records store the value, as when it
    was a plain ``str``)."""

    SILENCED = "silenced"
    FLAPPING = "flapping"


@event("helios.alert.signal_ignored.v1")
class SignalIgnored(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An acknowledge or resolve for an alert never triggered (engine version 2 on): PagerDuty
    drops such an event, and no alert comes of it. It is kept all the same, like an accepted
    signal: should the trigger it overtook arrive later, the canonical fold still places it."""

    policy: FoldPolicy
    reason: IgnoredBecause
    signal: Signal


@event("helios.alert.signal_deduplicated.v1")
class SignalDeduplicated(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A delivery the alert already holds: recorded by id, changing nothing.

    The commonest decision by far, hence a frozen ``msgspec.Struct`` (built in C, never
    tracked by the garbage collector) rather than an attrs class; its fields are declared in
    name order, the order msgspec wrote the attrs class in, so records keep their bytes."""

    received_at: Millis
    signal_id: str
    source: str


@event("helios.alert.signal_late.v1")
class SignalLate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    episode_started_at: Millis
    occurred_at: Millis
    signal_id: str


@event("helios.alert.triggered.v1")
class AlertTriggered(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The alert's first episode opened.

    From engine version 4 (``versions.SCORED_ON_OPENING``) it carries the episode's first
    score (``priority``, ``score``, ``factors``, ``ruleset_version``, as an ``AlertScored``
    would), and no ``AlertScored`` follows it; before, ``priority`` is None and one does."""

    at: Millis
    episode: int
    episode_id: str
    factors: Annotated[tuple[Factor, ...], ADDED] = ()
    group_key: str
    priority: Annotated[Priority | None, ADDED] = None
    ruleset_version: Annotated[int | None, ADDED] = None
    score: Annotated[int | None, ADDED] = None
    severity: Severity
    summary: str


@event("helios.alert.reopened.v1")
class AlertReopened(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A later episode opened: after a resolve, or split from the open one by a late resolve.
    Its first score is carried as ``AlertTriggered``'s is."""

    at: Millis
    episode: int
    episode_id: str
    factors: Annotated[tuple[Factor, ...], ADDED] = ()
    group_key: str
    priority: Annotated[Priority | None, ADDED] = None
    ruleset_version: Annotated[int | None, ADDED] = None
    score: Annotated[int | None, ADDED] = None
    severity: Severity
    summary: str


@event("helios.alert.acknowledged.v1")
class AlertAcknowledged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    by: str
    episode: int
    episode_id: str


@event("helios.alert.resolved.v1")
class AlertResolved(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    by: str
    episode: int
    episode_id: str


@event("helios.alert.scored.v1")
class AlertScored(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The episode's score or priority changed; ``factors`` reproduce the score exactly."""

    at: Millis
    episode: int
    episode_id: str
    factors: tuple[Factor, ...]
    previous_priority: Priority | None
    previous_score: int | None
    priority: Priority
    ruleset_version: int
    score: int

    @property
    def priority_changed(self) -> bool:
        return self.previous_priority is not self.priority


@event("helios.alert.flapping_started.v1")
class FlappingStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    transitions: tuple[Millis, ...]


@event("helios.alert.flapping_cleared.v1")
class FlappingCleared(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    last_transition: Millis | None


@event("helios.alert.silenced.v1")
class AlertSilenced(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    silence_ids: tuple[str, ...]


@event("helios.alert.unsilenced.v1")
class AlertUnsilenced(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis


@event("helios.alert.notification_requested.v1")
class NotificationRequested(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    channel: str
    episode: int
    episode_id: str
    notification_id: str
    priority: Priority | None
    reason: NotificationReason
    recipients: str
    ruleset_version: int


@event("helios.alert.notification_suppressed.v1")
class NotificationSuppressed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    because: SuppressedBecause
    episode: int
    episode_id: str
    notification_id: str
    reason: NotificationReason
    """The notification that would have been sent."""
    silence_ids: tuple[str, ...] = ()


@event("helios.alert.escalation_due.v1")
class EscalationDue(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    due_at: Millis
    episode: int
    episode_id: str
    priority: Priority


AlertEvent = (
    SignalAccepted
    | SignalRepeated
    | SignalIgnored
    | SignalDeduplicated
    | SignalLate
    | AlertTriggered
    | AlertReopened
    | AlertAcknowledged
    | AlertResolved
    | AlertScored
    | FlappingStarted
    | FlappingCleared
    | AlertSilenced
    | AlertUnsilenced
    | NotificationRequested
    | NotificationSuppressed
    | EscalationDue
)

# --------------------------------------------------------------------------- evolve


def evolve(state: AlertState, event: AlertEvent) -> AlertState:  # noqa: C901, PLR0912
    """Apply a recorded event. Total: never raises, so replay cannot fail."""
    if type(event) in _UNCHANGING:
        # Told before the cases, which each of these would be tried against in vain.
        return state
    match event:
        # The decisions a decider adds one by one come first: the cases are tried in order
        # (the classes are disjoint, so the order changes nothing else).
        case AlertScored(priority=priority, score=value, episode_id=episode_id):
            return _bookkept(
                state,
                priority=priority,
                score=value,
                scored_episode=episode_id,
                notified_episode=state.notified_episode,
                notified_urgency=state.notified_urgency,
                notifications=state.notifications,
            )
        case NotificationRequested(episode_id=episode_id, reason=reason, priority=priority):
            if reason == _BY_RESOLVE or priority is None:
                return _changed(state, notifications=state.notifications + 1)
            return _bookkept(
                state,
                priority=state.priority,
                score=state.score,
                scored_episode=state.scored_episode,
                notified_episode=episode_id,
                notified_urgency=priority.urgency,
                notifications=state.notifications + 1,
            )
        case (
            AlertTriggered(group_key=group_key, priority=priority)
            | AlertReopened(group_key=group_key, priority=priority)
        ):
            if priority is None:
                return _changed(state, group_key=group_key)
            # Scored as it opened (engine version 4 on): what an ``AlertScored`` would make.
            return _changed(
                state,
                group_key=group_key,
                priority=priority,
                score=event.score,
                scored_episode=event.episode_id,
            )
        case SignalAccepted(signal=signal, late_beyond_horizon=True):
            return _counted_beyond_horizon(state, signal)
        case (
            SignalAccepted(signal=signal, policy=policy)
            | SignalRepeated(signal=signal, policy=policy)
            | SignalIgnored(signal=signal, policy=policy)
        ):
            return _absorb(state, signal, policy)
        case FlappingStarted():
            return _changed(state, flapping=True)
        case FlappingCleared(last_transition=last_transition):
            return _changed(state, flapping=False, flap_cleared_at=last_transition)
        case AlertSilenced(silence_ids=silence_ids):
            return _changed(state, silenced_by=silence_ids)
        case AlertUnsilenced():
            return _changed(state, silenced_by=())
        case NotificationSuppressed():
            return _changed(state, notifications=state.notifications + 1)
        case EscalationDue(episode_id=episode_id):
            return _changed(state, escalated_episode=episode_id)
    return state


def scores(event: object) -> TypeGuard[AlertScored | AlertTriggered | AlertReopened]:
    """Whether ``event`` gives the episode its score: an ``AlertScored``, or (engine version 4
    on) the decision opening the episode, which carries its first score."""
    kind = type(event)
    return kind is AlertScored or (
        (kind is AlertTriggered or kind is AlertReopened) and event.priority is not None  # type: ignore[attr-defined]
    )


_UNCHANGING = frozenset({AlertAcknowledged, AlertResolved, SignalLate, SignalDeduplicated})
"""Decisions that change no state: an episode's status is the fold's, from its signals; a
duplicate changes nothing (applying a signal twice equals applying it once); a late signal's
flag is recorded only."""


def compacted(state: AlertState) -> AlertState:
    """The same state without its derived per-signal folds: smaller to keep aside. Nothing
    decided from it changes; a late signal into it re-folds from ``base``."""
    signals = state.signals.compact()
    if not state.folds and signals is state.signals:
        return state
    return msgspec.structs.replace(state, signals=signals, folds=empty_run())


def trimmed(state: AlertState) -> AlertState:
    """The same state, its runs over lists of exactly what they hold (folds included): what
    to encode for keeping, so that what the runs let go of is not stored with it."""
    signals, folds = state.signals.compact(), state.folds.compact()
    if signals is state.signals and folds is state.folds:
        return state
    return msgspec.structs.replace(state, signals=signals, folds=folds)


def evolve_all(state: AlertState, events: tuple[AlertEvent, ...] | list[AlertEvent]) -> AlertState:
    for recorded in events:
        state = evolve(state, recorded)
    return state


def _absorb(state: AlertState, signal: Signal, policy: FoldPolicy) -> AlertState:
    if state.holds(signal):
        return state
    return _absorbed(state, signal, policy)


def _absorbed(state: AlertState, signal: Signal, policy: FoldPolicy) -> AlertState:  # noqa: PLR0912
    """``state`` with ``signal``, which it does not hold yet."""
    signals = state.signals
    folds = state.folds
    base = state.base
    complete = folds.stop - folds.start == signals.stop - signals.start
    same_policy = policy is state.policy or policy == state.policy
    last = signals.items[signals.stop - 1] if signals.stop > signals.start else None
    # ``order_key`` compared field by field, the time first (here and below): no tuple is
    # built unless two times are equal, and this runs for every new signal.
    at = signal.occurred_at
    if same_policy and (
        last is None
        or last.occurred_at < at
        or (last.occurred_at == at and _order_key(last) < _order_key(signal))
    ):
        # The common case is O(1): only the new signal is applied, and both runs grow in place.
        fold = step(state.fold, signal, policy)
        signals = signals.appended(signal)
        if complete:
            folds = folds.appended(fold)
    else:
        # A late signal (or a changed policy) re-folds: the canonical fold is the truth. The
        # fold before the insertion point is unchanged, so it resumes from there.
        index = signals.bisect_right(_order_key(signal), _order_key)
        signals = signals.inserted(index, signal)
        if same_policy and complete:
            resume = folds[index - 1] if index else base
            folds = folds.prefix_then(index, fold_each(resume, signals.tail(index), policy))
        else:
            folds = Run.of(fold_each(base, signals, policy))
        fold = folds[-1]
    last_at = state.last_signal_at
    if last_at is None or signal.occurred_at > last_at:
        last_at = signal.occurred_at
    first_at = state.first_signal_at
    if first_at is None or signal.occurred_at < first_at:
        first_at = signal.occurred_at
    latest_trigger = state.latest_trigger
    if signal.action is _TRIGGER and (  # both triggers: at the same time, the ids tell
        latest_trigger is None
        or latest_trigger.occurred_at < at
        or (latest_trigger.occurred_at == at and latest_trigger.signal_id < signal.signal_id)
    ):
        latest_trigger = signal
    evicted_through = state.evicted_through
    if policy.horizon_ms > 0:  # bounded
        # Signals behind the watermark, or beyond the count the horizon keeps, leave the
        # state: their fold becomes the base. Each leaves once, so this is O(1) amortised.
        watermark = last_at - policy.horizon_ms
        count = signals.stop - signals.start
        # ``max(0, ...)`` spelled out: the builtin costs a call through its argument parsing
        # and iterator protocol, several times this comparison (this runs for every new signal).
        leaving = count - policy.horizon_signals if count > policy.horizon_signals else 0
        items, start = signals.items, signals.start
        while leaving < count - 1 and items[start + leaving].occurred_at < watermark:
            leaving += 1
        if leaving:
            evicted_through = _order_key(items[start + leaving - 1])
            if folds.stop - folds.start == count:
                base = folds.items[folds.start + leaving - 1]  # ``folds[leaving - 1]``
                folds = folds.without_first(leaving)
            else:
                base = fold_all(tuple(signals.head(leaving)), policy, start=base)
            signals = signals.without_first(leaving)
    # A copy made in C of the fields that change (a constructor call names all 24).
    return msgspec.structs.replace(
        state,
        signals=signals,
        policy=policy,
        base=base,
        fold=fold,
        folds=folds,
        latest_trigger=latest_trigger,
        evicted_through=evicted_through,
        total_signals=state.total_signals + 1,
        first_signal_at=first_at,
        last_signal_at=last_at,
    )


def _counted_beyond_horizon(state: AlertState, signal: Signal) -> AlertState:
    """A signal older than the watermark: in the totals, and nowhere else."""
    first_at = state.first_signal_at
    if first_at is None or signal.occurred_at < first_at:
        first_at = signal.occurred_at
    last_at = state.last_signal_at
    if last_at is None or signal.occurred_at > last_at:
        last_at = signal.occurred_at
    return _changed(
        state,
        total_signals=state.total_signals + 1,
        late_beyond_horizon=state.late_beyond_horizon + 1,
        first_signal_at=first_at,
        last_signal_at=last_at,
    )


def _bookkept(
    state: AlertState,
    *,
    priority: Priority | None,
    score: int | None,
    scored_episode: str,
    notified_episode: str,
    notified_urgency: int,
    notifications: int,
) -> AlertState:
    """``state`` with new scoring and notification bookkeeping (changed on most decisions)."""
    return msgspec.structs.replace(
        state,
        priority=priority,
        score=score,
        scored_episode=scored_episode,
        notified_episode=notified_episode,
        notified_urgency=notified_urgency,
        notifications=notifications,
    )


def _changed(state: AlertState, **changes: Any) -> AlertState:
    """``state`` with ``changes`` (a copy made in C)."""
    return msgspec.structs.replace(state, **changes)


# --------------------------------------------------------------------------- decide


def decide(command: AlertCommand, state: AlertState) -> tuple[AlertEvent, ...]:
    """The decisions a command leads to, each with its reasons."""
    return decide_and_evolve(command, state)[0]


def decide_and_evolve(
    command: AlertCommand, state: AlertState
) -> tuple[tuple[AlertEvent, ...], AlertState]:
    """The decisions, with the state they lead to: ``evolve_all(state, decisions)``, which
    deciding computes anyway (each decision depends on the ones before it)."""
    match command:
        case IngestSignal():
            return _decide_signal(command, state)
        case Tick():
            return _decide_tick(command, state)


def duplicate(state: AlertState, signal: Signal) -> SignalDeduplicated | None:
    """The decision on a delivery the alert already holds (the whole decision: it changes
    no state), or None when ``signal`` is news to it."""
    signals = state.signals
    items, start, stop = signals.items, signals.start, signals.stop
    if stop == start:
        return None
    # ``holds`` spelled out, its checks in the order that settles the commonest cases first.
    last = items[stop - 1]
    signal_id, occurred_at, action = signal.signal_id, signal.occurred_at, signal.action
    if last.signal_id == signal_id and last.occurred_at == occurred_at and last.action is action:
        # The latest delivery again (the other member of an HA pair, a repeat).
        return SignalDeduplicated(
            signal_id=signal_id, source=signal.source, received_at=signal.received_at
        )
    # ``order_key`` compared field by field, the time first: no tuple is built unless two
    # times are equal (this runs for every signal that is not the latest delivery again).
    rank = action.rank
    held_at = last.occurred_at
    if held_at < occurred_at or (
        held_at == occurred_at and (last.action.rank, last.signal_id) < (rank, signal_id)
    ):
        return None  # sorts after every signal held: a new one, in order
    # A copy a few signals late (an HA pair's second member after the first delivered its
    # next ones) is just before the end; so is where most late news sorts. Walked back from
    # there (a ``while``: a ``range`` with a negative step costs more to make than this walk)
    # until a held signal sorts before this one, which then is news: no search.
    floor = stop - _NEAR_END if stop - _NEAR_END > start else start  # ``max``, spelled out
    position = stop - 2
    while position >= floor:
        held = items[position]
        held_at = held.occurred_at
        if held_at < occurred_at:
            return None  # sorts between two held signals (the run is in canonical order)
        if held_at == occurred_at:
            if held.signal_id == signal_id and held.action is action:
                return SignalDeduplicated(
                    signal_id=signal_id, source=signal.source, received_at=signal.received_at
                )
            if (held.action.rank, held.signal_id) < (rank, signal_id):
                return None
        position -= 1
    key = (occurred_at, rank, signal_id)  # ``order_key(signal)``
    index = signals.bisect_left(key, _order_key)
    if index < stop - start and _order_key(items[start + index]) == key:
        return SignalDeduplicated(
            signal_id=signal_id, source=signal.source, received_at=signal.received_at
        )
    return None


def _decide_signal(
    command: IngestSignal, state: AlertState
) -> tuple[tuple[AlertEvent, ...], AlertState]:
    signal = command.signal
    copy = duplicate(state, signal)
    if copy is not None:
        return (copy,), state
    return ingest_news(state, signal, command.ruleset, command.silences, command.engine_version)


def ingest_news(
    state: AlertState,
    signal: Signal,
    ruleset: Ruleset,
    silences: tuple[Silence, ...],
    engine_version: int,
) -> tuple[tuple[AlertEvent, ...], AlertState]:
    """``decide_and_evolve`` of ``IngestSignal`` of these fields, for a signal that
    ``duplicate`` found news to ``state`` (the caller asked it first, and it is not asked
    again). The command's fields are passed as they are: the engine would build the command
    for every new signal only for this call to read it."""
    policy = FoldPolicy.of(ruleset, bounded=engine_version >= _LATENESS_HORIZON)
    before = state.fold.episode
    last_at = state.last_signal_at
    # Asked only of a signal no later than the alert's latest: a later one sorts after every
    # signal that left the horizon, and is inside it (most new signals are).
    if (
        last_at is not None
        and signal.occurred_at <= last_at
        and state.beyond_horizon(signal, policy)
    ):
        # It can no longer rewrite history: recorded and counted, and nothing decided.
        beyond = SignalAccepted(
            signal=signal,
            policy=policy,
            late=before is not None and signal.occurred_at < before.started_at,
            late_beyond_horizon=True,
        )
        return (beyond,), _counted_beyond_horizon(state, signal)
    events = _accepted(before, signal, policy)
    # What ``evolve`` does with either acceptance (the signal is known not to be held).
    after_state = _absorbed(state, signal, policy)
    after = after_state.fold.episode
    if after is None:
        # An acknowledge or resolve with nothing ever triggered. Ignoring it is a decision
        # only: the state is the same either way (the signal is kept for a trigger it
        # overtook, which the fold will place when it arrives).
        if engine_version >= _IGNORE_UNTRIGGERED_ACTIONS:
            ignored = SignalIgnored(
                signal=signal, policy=policy, reason=IgnoredBecause.NEVER_TRIGGERED
            )
            return (ignored,), after_state
        return tuple(events), after_state
    # Positional: a class called with keywords gets them as a dict, built for every new signal.
    journal = _Journal(
        after_state,
        events,
        ruleset,
        signal.occurred_at,
        engine_for(engine_version),
        engine_version >= _SCORED_ON_OPENING,
    )
    opened = before is None or (
        after.episode_id != before.episode_id and after.started_at > before.started_at
    )
    previous_status = _TRIGGERED if opened else before.status if before else None
    if opened or after.status is not previous_status:
        # Else no status changed (a trigger on the open episode, the commonest new signal):
        # ``_decide_status`` would decide nothing.
        _decide_status(
            journal, signal, before, after, opened=opened, previous_status=previous_status
        )
    # No silences (the usual case) silence nothing: ``matching`` would say so more slowly.
    silence_ids = (
        matching(silences, signal.labels, signal.occurred_at, journal.regex_engine)
        if silences
        else ()
    )
    if silence_ids != journal.silenced_by:
        journal.silence(silence_ids)
    if journal.flapping or after_state.fold.flapping:
        # Neither flapping nor to be: nothing to decide (``_decide_flapping`` would say so).
        _decide_flapping(journal)
    _decide_notifications(journal, before, after, opened=opened, previous_status=previous_status)
    return tuple(journal.events), journal.finished()


_TRIGGER = Action.TRIGGER
_CONTENT_ID_PREFIX = CONTENT_ID_PREFIX
_TRIGGERED, _ACKNOWLEDGED, _RESOLVED = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED
# Enum members read off their class cost a descriptor call each (in Python): the reasons a
# decision names, read for every new signal, are read from module constants instead.
_BY_TRIGGER, _BY_REOPEN = NotificationReason.TRIGGERED, NotificationReason.REOPENED
_BY_PRIORITY_RAISE, _BY_RESOLVE = NotificationReason.PRIORITY_RAISED, NotificationReason.RESOLVED
_BY_FLAPPING_CLEARED, _BY_ESCALATION = (
    NotificationReason.FLAPPING_CLEARED,
    NotificationReason.ESCALATION,
)
_LATENESS_HORIZON = versions.LATENESS_HORIZON
_SCORED_ON_OPENING = versions.SCORED_ON_OPENING
_IGNORE_UNTRIGGERED_ACTIONS = versions.IGNORE_UNTRIGGERED_ACTIONS


def _accepted(before: Episode | None, signal: Signal, policy: FoldPolicy) -> list[AlertEvent]:
    """How a new distinct signal inside the horizon is recorded: accepted, or repeated (a
    copy the open episode already has); and flagged late when older than the episode."""
    late = before is not None and signal.occurred_at < before.started_at
    accepted: SignalAccepted | SignalRepeated
    if (
        before is not None
        and not late
        and signal.signal_id in before.content_ids
        and signal.signal_id.startswith(_CONTENT_ID_PREFIX)  # ``is_content_id``
        # the same trigger after a resolve is news: it opens the next episode
        and (before.status is not _RESOLVED or signal.action is not _TRIGGER)
    ):
        accepted = SignalRepeated(signal=signal, policy=policy)
    else:
        accepted = SignalAccepted(signal=signal, policy=policy, late=late)
    if late and before is not None:
        return [
            accepted,
            SignalLate(
                signal_id=signal.signal_id,
                occurred_at=signal.occurred_at,
                episode_started_at=before.started_at,
            ),
        ]
    return [accepted]


def _decide_status(
    journal: _Journal,
    signal: Signal,
    before: Episode | None,
    after: Episode,
    *,
    opened: bool,
    previous_status: Status | None,
) -> None:
    """The episode changes a new signal made: opened (or reopened), acknowledged, resolved."""
    at = journal.at
    if opened and before is not None and before.status is not _RESOLVED:
        # A late resolve split the open episode: it closed back then, and a later trigger
        # opened the episode that is current now. Record both, so the history stays true.
        journal.events.append(
            AlertResolved(
                episode=before.number,
                episode_id=before.episode_id,
                at=at,
                by=signal.source,
            )
        )
    if opened:
        kind = AlertTriggered if before is None else AlertReopened
        group_key = journal.ruleset.group_key(after.service, after.labels)  # ``group_key_of``
        if journal.scores_opening:
            # Its first score is written into it when the episode is scored (``_rescore``).
            journal.opening = len(journal.events)
        journal.events.append(
            kind(
                episode=after.number,
                episode_id=after.episode_id,
                at=after.started_at,
                severity=after.severity,
                summary=after.summary,
                group_key=group_key,
            )
        )
        journal.group_key = group_key  # what ``evolve`` makes of either
    status = after.status
    if status is previous_status:
        return
    if status is _ACKNOWLEDGED:
        journal.events.append(
            AlertAcknowledged(
                episode=after.number,
                episode_id=after.episode_id,
                at=after.acknowledged_at if after.acknowledged_at is not None else at,
                by=after.acknowledged_by,
            )
        )
    elif status is _RESOLVED:
        journal.events.append(
            AlertResolved(
                episode=after.number,
                episode_id=after.episode_id,
                at=after.resolved_at if after.resolved_at is not None else at,
                by=after.resolved_by,
            )
        )


def _decide_notifications(
    journal: _Journal,
    before: Episode | None,
    after: Episode,
    *,
    opened: bool,
    previous_status: Status | None,
) -> None:
    """Score the episode, and notify of what a new signal made of it."""
    previous_priority = journal.priority
    same_episode = journal.scored_episode == after.episode_id
    rescored = _rescore(journal, after)
    if opened:
        journal.notify(
            _BY_TRIGGER if before is None else _BY_REOPEN,
            rescored.priority,
        )
    elif (
        same_episode
        and previous_priority is not None
        and rescored.priority.urgency > previous_priority.urgency
        and after.status is _TRIGGERED
        and rescored.priority.urgency > journal.notified_urgency_for(after.episode_id)
    ):
        journal.notify(_BY_PRIORITY_RAISE, rescored.priority)
    if (
        previous_status is not _RESOLVED
        and after.status is _RESOLVED
        and journal.ruleset.notify_on_resolve
        and journal.notified_episode == after.episode_id
    ):
        journal.notify(_BY_RESOLVE, journal.priority, always=True)


def _decide_tick(command: Tick, state: AlertState) -> tuple[tuple[AlertEvent, ...], AlertState]:
    ruleset, at = command.ruleset, command.at
    episode = state.episode
    if episode is None:
        return (), state
    journal = _Journal(state, [], ruleset, at, engine_for(command.engine_version), False)
    transitions = state.fold.transitions
    last = transitions[-1] if transitions else None
    if state.flapping and (last is None or at - last >= ruleset.flap_window_ms):
        journal.flapping_cleared(last)
        _rescore(journal, episode)
        if (
            episode.status is _TRIGGERED
            and journal.notified_episode != episode.episode_id
            and journal.priority is not None
        ):
            journal.notify(_BY_FLAPPING_CLEARED, journal.priority)
    priority = journal.priority
    if (
        episode.status is _TRIGGERED
        and priority in ruleset.escalate_priorities
        and journal.escalated_episode != episode.episode_id
        and at >= episode.started_at + ruleset.escalate_after_ms
        and priority is not None
    ):
        journal.events.append(
            EscalationDue(
                episode=episode.number,
                episode_id=episode.episode_id,
                at=at,
                priority=priority,
                due_at=episode.started_at + ruleset.escalate_after_ms,
            )
        )
        journal.escalated_episode = episode.episode_id  # what ``evolve`` makes of it
        silenced = matching(
            command.silences, episode.labels, at, engine_for(command.engine_version)
        )
        journal.notify(_BY_ESCALATION, priority, silenced=silenced)
    return tuple(journal.events), journal.finished()


# --------------------------------------------------------------------------- helpers


class _Journal:
    """The events decided so far and the bookkeeping they lead to (decide-local, never stored).

    The decisions a decider adds after the signal's acceptance change only the state's
    bookkeeping (priority, score, notifications, flapping, silences, group, escalation): those
    fields are kept here as they change, each the way ``evolve`` changes it, and written into
    ``base`` once (``finished``), where evolving each decision would copy the whole state once
    per decision. A plain slotted class: one is made for every new signal.

    A decision is recorded by appending it to ``events`` (no method call: several are made for
    every new signal), and whoever records it sets the fields it changes, as ``evolve`` does.
    """

    __slots__ = (
        "at",
        "base",
        "bookkept_from",
        "escalated_episode",
        "events",
        "flap_cleared_at",
        "flapping",
        "group_key",
        "notifications",
        "notified_episode",
        "notified_urgency",
        "opening",
        "priority",
        "regex_engine",
        "ruleset",
        "score",
        "scored_episode",
        "scores_opening",
        "silenced_by",
    )

    def __init__(  # noqa: PLR0917 -- positional: called for every new signal (see ``ingest_news``)
        self,
        state: AlertState,
        events: list[AlertEvent],
        ruleset: Ruleset,
        at: Millis,
        regex_engine: RegexEngine,
        scores_opening: bool,
    ) -> None:
        self.base = state
        self.events = events
        self.bookkept_from = len(events)
        """The decisions before this one change no bookkeeping (they are in ``base``)."""
        self.ruleset = ruleset
        self.at = at
        self.regex_engine = regex_engine
        self.scores_opening = scores_opening
        """The episode's first score goes into the decision that opens it (version 4 on)."""
        self.opening = -1
        """The index in ``events`` of that decision, while it waits for its score."""
        self.priority: Priority | None = state.priority
        self.score: int | None = state.score
        self.scored_episode: str = state.scored_episode
        self.flapping: bool = state.flapping
        self.flap_cleared_at: Millis | None = state.flap_cleared_at
        self.silenced_by: tuple[str, ...] = state.silenced_by
        self.group_key: str = state.group_key
        self.escalated_episode: str = state.escalated_episode
        self.notified_episode: str = state.notified_episode
        self.notified_urgency: int = state.notified_urgency
        self.notifications: int = state.notifications

    def finished(self) -> AlertState:
        """``base`` with the bookkeeping decided: ``evolve_all(base, decisions)``."""
        base = self.base
        if len(self.events) == self.bookkept_from:
            return base
        # One copy made in C whatever was decided (a comparison per field would cost more).
        return msgspec.structs.replace(
            base,
            priority=self.priority,
            score=self.score,
            scored_episode=self.scored_episode,
            flapping=self.flapping,
            flap_cleared_at=self.flap_cleared_at,
            silenced_by=self.silenced_by,
            group_key=self.group_key,
            escalated_episode=self.escalated_episode,
            notified_episode=self.notified_episode,
            notified_urgency=self.notified_urgency,
            notifications=self.notifications,
        )

    def notified_urgency_for(self, episode_id: str) -> int:
        """``AlertState.notified_urgency_for`` of the bookkeeping so far."""
        return self.notified_urgency if self.notified_episode == episode_id else 0

    def silence(self, silence_ids: tuple[str, ...]) -> None:
        at = self.at
        self.events.append(
            AlertSilenced(at=at, silence_ids=silence_ids) if silence_ids else AlertUnsilenced(at=at)
        )
        self.silenced_by = silence_ids

    def flapping_started(self, transitions: tuple[Millis, ...]) -> None:
        self.events.append(FlappingStarted(at=self.at, transitions=transitions))
        self.flapping = True

    def flapping_cleared(self, last_transition: Millis | None) -> None:
        self.events.append(FlappingCleared(at=self.at, last_transition=last_transition))
        self.flapping = False
        self.flap_cleared_at = last_transition

    def notify(
        self,
        reason: NotificationReason,
        priority: Priority | None,
        *,
        always: bool = False,
        silenced: tuple[str, ...] | None = None,
    ) -> None:
        episode = self.base.fold.episode
        if episode is None:
            return
        if not always and (priority is None or priority not in self.ruleset.notify_priorities):
            return
        silence_ids = self.silenced_by if silenced is None else silenced
        notification_id = "ntf-" + stable_hash(
            self.base.tenant,
            self.base.dedup_key,
            episode.episode_id,
            reason,
            str(self.notifications),
        )
        # Either decision counts one notification more (``evolve``).
        self.notifications += 1
        if silence_ids or self.flapping:
            self.events.append(
                NotificationSuppressed(
                    notification_id=notification_id,
                    episode=episode.number,
                    episode_id=episode.episode_id,
                    at=self.at,
                    reason=reason,
                    because=SuppressedBecause.SILENCED
                    if silence_ids
                    else SuppressedBecause.FLAPPING,
                    silence_ids=silence_ids,
                )
            )
            return
        self.events.append(
            NotificationRequested(
                notification_id=notification_id,
                episode=episode.number,
                episode_id=episode.episode_id,
                at=self.at,
                reason=reason,
                priority=priority,
                channel=self.ruleset.notify_channel,
                recipients=self.ruleset.recipients,
                ruleset_version=self.ruleset.version,
            )
        )
        if reason != _BY_RESOLVE and priority is not None:
            self.notified_episode = episode.episode_id
            self.notified_urgency = priority.urgency


def _decide_flapping(journal: _Journal) -> None:
    fold = journal.base.fold
    transitions = fold.transitions
    effective = fold.flapping and not (transitions and journal.flap_cleared_at == transitions[-1])
    if effective and not journal.flapping:
        journal.flapping_started(transitions)
    elif not effective and journal.flapping:
        journal.flapping_cleared(journal.flap_cleared_at)


def _rescore(journal: _Journal, episode: Episode) -> Score:
    """Score the episode; record an ``AlertScored`` when its score or priority moves.

    A resolved episode is scored too: a late signal can still change what it was, and the
    final priority must not depend on the order signals arrived in.
    """
    current = scored(
        journal.ruleset,
        severity=episode.severity,
        service=episode.service,
        labels=episode.labels,
        occurrences=episode.occurrences,
        flapping=journal.flapping,
        regex_engine=journal.regex_engine,
    )
    same_episode = journal.scored_episode == episode.episode_id
    priority, value = journal.priority, journal.score
    if same_episode and priority is current.priority and value == current.value:
        return current
    if journal.opening >= 0:
        # Scored as it opens (engine version 4 on): the opening carries the score that an
        # ``AlertScored`` would record, and none is recorded.
        events, index = journal.events, journal.opening
        events[index] = msgspec.structs.replace(
            events[index],
            factors=current.factors,
            priority=current.priority,
            ruleset_version=current.ruleset_version,
            score=current.value,
        )
        journal.opening = -1
    else:
        journal.events.append(
            AlertScored(
                episode=episode.number,
                episode_id=episode.episode_id,
                at=journal.at,
                previous_priority=priority if same_episode else None,
                priority=current.priority,
                previous_score=value if same_episode else None,
                score=current.value,
                factors=current.factors,
                ruleset_version=current.ruleset_version,
            )
        )
    # What ``evolve`` makes of it.
    journal.priority, journal.score = current.priority, current.value
    journal.scored_episode = episode.episode_id
    return current


def group_key_of(episode: Episode, ruleset: Ruleset) -> str:
    """The incident group an episode belongs to, from the ruleset's ``group_by`` fields."""
    return ruleset.group_key(episode.service, episode.labels)
