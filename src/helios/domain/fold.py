"""The canonical fold: an alert's state as a pure function of its set of distinct signals.

Signals are applied in canonical order ``(occurred_at, action rank, signal_id)``, so arrival
order and duplicates never change the result. The per-episode state machine:

    (none) --trigger--> triggered --acknowledge--> acknowledged
    triggered | acknowledged --resolve--> resolved
    resolved --trigger (later occurred_at)--> triggered, in a new episode (a reopen)

A trigger while acknowledged keeps it acknowledged (counted, not re-notified); an acknowledge or
resolve with nothing open is kept in the set but changes nothing.

A signal identified by its content alone (no time of its own, see
``identity.content_signal_id``) may be in the set several times, once per delivery time. A
trigger whose content already triggered the current episode is a copy (the other member of an
HA pair, a resend): it counts no occurrence. The same content after a resolve is a trigger like
any other and opens the next episode.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import msgspec

from helios.domain.events import ADDED_FIELD
from helios.domain.identity import CONTENT_ID_PREFIX
from helios.domain.ruleset import Ruleset, SeverityPolicy
from helios.domain.values import Action, Labels, Millis, Severity, Signal, Status

# Read for every signal: an enum member read off its class (as a ``match`` value pattern
# reads it) costs a descriptor call each time, a module constant does not.
_TRIGGER, _ACKNOWLEDGE = Action.TRIGGER, Action.ACKNOWLEDGE
_TRIGGERED, _ACKNOWLEDGED, _RESOLVED = Status.TRIGGERED, Status.ACKNOWLEDGED, Status.RESOLVED
_HIGHEST = SeverityPolicy.HIGHEST
_CONTENT_ID_PREFIX = CONTENT_ID_PREFIX


@attrs.frozen(kw_only=True)
class FoldPolicy:
    """The only rules the fold depends on; recorded with each accepted signal for replay."""

    severity_policy: SeverityPolicy = SeverityPolicy.HIGHEST
    flap_threshold: int = 5
    flap_window_ms: Millis = 30 * 60_000
    horizon_ms: Millis = attrs.field(default=0, metadata=ADDED_FIELD)
    """The lateness horizon in time (0: none, every signal kept, as engine versions 1 and 2)."""
    horizon_signals: int = attrs.field(default=0, metadata=ADDED_FIELD)
    """The most signals kept inside the horizon (0: no bound)."""

    @property
    def bounded(self) -> bool:
        return self.horizon_ms > 0

    @classmethod
    def of(cls, ruleset: Ruleset, *, bounded: bool = True) -> FoldPolicy:
        """The policy of ``ruleset``; ``bounded`` gives it the ruleset's lateness horizon
        (engine version 3 on), else it keeps every signal."""
        # Asked for every signal, nearly always of the same ruleset object: reusing the last
        # policy lets the alert state recognise it by identity before comparing fields.
        for known, was_bounded, policy in _LAST_POLICY:
            if known is ruleset and was_bounded is bounded:
                return policy
        policy = cls(
            severity_policy=ruleset.severity_policy,
            flap_threshold=ruleset.flap_threshold,
            flap_window_ms=ruleset.flap_window_ms,
            horizon_ms=ruleset.lateness_horizon_ms if bounded else 0,
            horizon_signals=ruleset.horizon_signals if bounded else 0,
        )
        _LAST_POLICY[:] = [(ruleset, bounded, policy)]  # one slice assignment: thread-safe
        return policy


_LAST_POLICY: list[tuple[Ruleset, bool, FoldPolicy]] = []


class Episode(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One trigger→resolve cycle. ``episode_id`` is the id of the signal that opened it (with
    the episode's number when that id is a content id, which later episodes may share).

    Like ``Fold``, a frozen ``msgspec.Struct``: one is built for nearly every new signal and
    kept in the alert's per-signal folds, and a struct is built in C and never tracked by the
    garbage collector (it holds no cycle)."""

    number: int
    episode_id: str
    started_at: Millis
    status: Status
    severity: Severity
    summary: str
    service: str
    labels: Labels
    sources: tuple[str, ...]
    occurrences: int
    last_signal_at: Millis
    acknowledged_at: Millis | None = None
    acknowledged_by: str = ""
    resolved_at: Millis | None = None
    resolved_by: str = ""
    content_ids: frozenset[str] = frozenset()
    """The content-identified signals applied in this episode: their copies change nothing."""

    @property
    def is_open(self) -> bool:
        return self.status is not _RESOLVED


class Fold(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    episode: Episode | None = None
    episodes: int = 0
    transitions: tuple[Millis, ...] = ()
    """``occurred_at`` of the most recent status changes (at most ``flap_threshold``)."""
    flapping: bool = False


EMPTY = Fold()
_replace = msgspec.structs.replace


def step(fold: Fold, signal: Signal, policy: FoldPolicy) -> Fold:
    """Apply one signal, which must not sort before any signal already applied."""
    if signal.action is not _TRIGGER:
        return _acted(fold, signal, policy)
    # A trigger (most signals) is applied here, without a call more.
    episode = fold.episode
    signal_id = signal.signal_id
    content_id = signal_id.startswith(_CONTENT_ID_PREFIX)  # ``is_content_id``, inlined
    if episode is None or episode.status is _RESOLVED:
        number = fold.episodes + 1
        opened = Episode(
            number=number,
            episode_id=f"{signal.signal_id}/{number}" if content_id else signal.signal_id,
            started_at=signal.occurred_at,
            status=_TRIGGERED,
            severity=signal.severity,
            summary=signal.summary,
            service=signal.service,
            labels=signal.labels,
            sources=(signal.source,),
            occurrences=1,
            last_signal_at=signal.occurred_at,
            content_ids=frozenset((signal.signal_id,)) if content_id else frozenset(),
        )
        return _transition(fold, opened, signal.occurred_at, policy, new_episode=True)
    # A copy of a trigger this episode already has is no new occurrence; it is still the
    # latest trigger when it sorts last (its summary and labels are the current ones again,
    # e.g. an Alertmanager group back to "[FIRING:1]").
    content_ids = episode.content_ids
    copy = content_id and signal_id in content_ids
    severity = signal.severity
    if policy.severity_policy is _HIGHEST and episode.severity.rank > severity.rank:
        severity = episode.severity
    sources = episode.sources
    if signal.source not in sources:  # ``_with_source`` asked only when it adds one
        sources = _with_source(sources, signal.source)
    # Copies made in C naming only what changes (``msgspec.structs.replace``; a constructor
    # call would read and name all 16 fields): this runs for most signals.
    updated = _replace(
        episode,
        severity=severity,
        summary=signal.summary,
        service=signal.service,
        labels=signal.labels,
        sources=sources,
        occurrences=episode.occurrences if copy else episode.occurrences + 1,
        last_signal_at=signal.occurred_at,
        # ``_with_content``, inlined: a copy's id is held, and most ids are not content ids.
        content_ids=content_ids if copy or not content_id else content_ids | {signal_id},
    )
    return _replace(fold, episode=updated)


def _acted(fold: Fold, signal: Signal, policy: FoldPolicy) -> Fold:
    """``step`` of an acknowledge or a resolve."""
    episode = fold.episode
    if signal.action is _ACKNOWLEDGE:
        if episode is None or episode.status is not _TRIGGERED:
            return fold
    elif episode is None or episode.status is _RESOLVED:
        return fold
    signal_id, source, at = signal.signal_id, signal.source, signal.occurred_at
    # ``_with_content`` and ``is_content_id`` inlined, and ``_with_source`` asked only when it
    # adds one (as for a trigger): this runs for every acknowledge and resolve folded.
    sources, content_ids = episode.sources, episode.content_ids
    if source not in sources:
        sources = _with_source(sources, source)
    if signal_id.startswith(_CONTENT_ID_PREFIX) and signal_id not in content_ids:
        content_ids = content_ids | {signal_id}
    if signal.action is _ACKNOWLEDGE:
        settled = _replace(
            episode,
            status=_ACKNOWLEDGED,
            sources=sources,
            last_signal_at=at,
            acknowledged_at=at,
            acknowledged_by=source,
            content_ids=content_ids,
        )
    else:
        settled = _replace(
            episode,
            status=_RESOLVED,
            sources=sources,
            last_signal_at=at,
            resolved_at=at,
            resolved_by=source,
            content_ids=content_ids,
        )
    return _transition(fold, settled, at, policy)


def fold_all(signals: tuple[Signal, ...], policy: FoldPolicy, *, start: Fold = EMPTY) -> Fold:
    """Fold signals that are already in canonical order (continuing from ``start``)."""
    fold = start
    for signal in signals:
        fold = step(fold, signal, policy)
    return fold


def fold_each(start: Fold, signals: Iterable[Signal], policy: FoldPolicy) -> list[Fold]:
    """The fold after each of ``signals`` (in canonical order), continuing from ``start``."""
    folds = []
    fold = start
    for signal in signals:
        fold = step(fold, signal, policy)
        folds.append(fold)
    return folds


def _transition(
    fold: Fold, episode: Episode, at: Millis, policy: FoldPolicy, *, new_episode: bool = False
) -> Fold:
    transitions = (*fold.transitions, at)[-policy.flap_threshold :]
    flapping = (
        len(transitions) >= policy.flap_threshold
        and transitions[-1] - transitions[0] <= policy.flap_window_ms
    )
    return Fold(
        episode=episode,
        episodes=fold.episodes + 1 if new_episode else fold.episodes,
        transitions=transitions,
        flapping=flapping,
    )


def _with_source(sources: tuple[str, ...], source: str) -> tuple[str, ...]:
    if source in sources:
        return sources
    return tuple(sorted((*sources, source)))
