"""The engine: one pure step from inputs (signals, ticks) and loaded states to new events.

It routes each signal to its alert, runs the alert decider, and turns the alert's decisions
into incident commands for the alert's group. The caller (a use case) loads the states it
needs first, runs the engine, and appends the events; ``Missing`` tells it what else to load.
No I/O here: the same inputs and states always give the same events.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView

import attrs

from helios.domain import alert, incident, versions
from helios.domain.flags import NO_FLAGS, NO_INCIDENT_GROUPING, FlagValues
from helios.domain.incident import AlertChange
from helios.domain.ruleset import Ruleset
from helios.domain.silence import Silence
from helios.domain.values import Millis, Signal

AlertKey = tuple[str, str]
"""(tenant, dedup key)"""
GroupKey = tuple[str, str]
"""(tenant, group key)"""


@attrs.frozen(kw_only=True)
class TenantContext:
    """The rules, silences and feature flags in force for a tenant when the batch is decided,
    and the behaviour (``engine_version``) it is decided with: the current one for new inputs,
    the recorded one in replay."""

    ruleset: Ruleset
    silences: tuple[Silence, ...] = ()
    silences_version: int = 0
    engine_version: int = versions.CURRENT
    flags: FlagValues = NO_FLAGS
    flags_version: int = 0
    """The version of the tenant's flag stream ``flags`` are (0: no flags ever defined)."""

    def grouped(self, dedup_key: str) -> bool:
        """Whether an alert's decisions go to its incident group (``no_incident_grouping``)."""
        return not self.flags.flags or not self.flags.in_effect(NO_INCIDENT_GROUPING, dedup_key)


@attrs.frozen(kw_only=True)
class Missing:
    """States the engine needs that the caller has not loaded."""

    groups: frozenset[GroupKey]


class _Decided(Mapping[uuid.UUID, list[object]]):
    """The events decided, by stream id, in the order each stream was first decided into: a
    read-only view of ``Working``'s lists.

    Kept as a list of (stream id, events) and not as a dict by stream id: a stream id hashes
    in Python (``UUID.__hash__``), once per stream and batch in a dict, where the worker only
    iterates them. A look-up by id indexes them once, when first asked."""

    __slots__ = ("_index", "_streams")

    def __init__(self, streams: list[tuple[uuid.UUID, list[object]]]) -> None:
        self._streams = streams
        """Each stream once (``Working`` appends to it, and empties it with ``forget``)."""
        self._index: dict[uuid.UUID, list[object]] = {}

    def forget(self) -> None:
        self._streams.clear()
        self._index = {}

    def __getitem__(self, stream: uuid.UUID) -> list[object]:
        index = self._index
        if len(index) != len(self._streams):  # streams were added since it was made
            index = self._index = dict(self._streams)
        return index[stream]

    def __iter__(self) -> Iterator[uuid.UUID]:
        return map(_STREAM, self._streams)

    def __len__(self) -> int:
        return len(self._streams)

    def items(self) -> ItemsView[uuid.UUID, list[object]]:
        return _DecidedItems(self)

    def values(self) -> ValuesView[list[object]]:
        return _DecidedValues(self)

    def listed(self) -> list[tuple[uuid.UUID, list[object]]]:
        return self._streams


class _DecidedItems(ItemsView[uuid.UUID, list[object]]):
    # Iterated straight off the list: ``ItemsView`` would look each stream up by its id.
    _mapping: _Decided

    def __iter__(self) -> Iterator[tuple[uuid.UUID, list[object]]]:
        return iter(self._mapping.listed())


class _DecidedValues(ValuesView[list[object]]):
    _mapping: _Decided

    def __iter__(self) -> Iterator[list[object]]:
        return map(_EVENTS, self._mapping.listed())


_STREAM, _EVENTS = operator.itemgetter(0), operator.itemgetter(1)


@attrs.define
class Working:
    """Loaded states and the events decided so far, in decision order per stream."""

    alerts: dict[AlertKey, alert.AlertState]
    groups: dict[GroupKey, incident.IncidentGroup]
    _streams: list[tuple[uuid.UUID, list[object]]] = attrs.field(factory=list, init=False)
    _decided: _Decided = attrs.field(
        default=attrs.Factory(lambda self: _Decided(self._streams), takes_self=True), init=False
    )
    # Each stream's list of ``_decided`` by the key it is named from: a tuple of two strings
    # hashes in C, where the stream id would be built (memoized) and hashed by a Python
    # ``UUID.__hash__`` for every signal, duplicates included.
    _by_alert: dict[AlertKey, list[object]] = attrs.field(factory=dict, init=False)
    _by_group: dict[GroupKey, list[object]] = attrs.field(factory=dict, init=False)

    @property
    def events(self) -> Mapping[uuid.UUID, list[object]]:
        """The events decided, by stream (read-only: ``clear_events`` empties it)."""
        return self._decided

    def clear_events(self) -> None:
        """Forget the events decided so far (once they are appended), keeping the states."""
        self._decided.forget()
        self._by_alert.clear()
        self._by_group.clear()

    def alert_events(self, key: AlertKey) -> list[object]:
        """The list the events of alert ``key``'s stream are decided into."""
        bucket = self._by_alert.get(key)
        if bucket is None:
            # Each stream is listed once: it is listed under its key here, and an alert's
            # stream id and a group's differ.
            bucket = self._by_alert[key] = []
            self._streams.append((alert.alert_stream_id(*key), bucket))
        return bucket

    def group_events(self, key: GroupKey) -> list[object]:
        """The list the events of incident group ``key``'s stream are decided into."""
        bucket = self._by_group.get(key)
        if bucket is None:
            bucket = self._by_group[key] = []
            self._streams.append((incident.group_stream_id(*key), bucket))
        return bucket


def groups_needed(
    signals: Iterable[Signal], working: Working, contexts: dict[str, TenantContext]
) -> frozenset[GroupKey]:
    """The incident groups a batch of signals may touch (load them before ``apply_signal``)."""
    needed: set[GroupKey] = set()
    for signal in signals:
        state = working.alerts.get((signal.tenant, signal.dedup_key))
        if state is not None and state.group_key:
            needed.add((signal.tenant, state.group_key))
        ruleset = contexts[signal.tenant].ruleset
        needed.add((signal.tenant, ruleset.group_key(signal.service, signal.labels)))
    return frozenset(needed)


def apply_signal(working: Working, signal: Signal, context: TenantContext) -> Missing | None:
    """Decide one signal into ``working``; returns ``Missing`` (and changes nothing) if a
    group state it needs is not loaded."""
    key = (signal.tenant, signal.dedup_key)
    state = working.alerts.get(key)
    if state is None:
        state = alert.initial_state(signal.tenant, signal.dedup_key)
    else:
        duplicate = alert.duplicate(state, signal)
        if duplicate is not None:
            # Most signals are copies of one the alert holds (an HA pair, every repeat): the
            # decision is that one event, which changes neither the alert nor its incident.
            bucket = working._by_alert.get(key)  # ``alert_events``, inlined
            if bucket is None:
                # The alert's first decision since the events were cleared, most often a
                # duplicate: its list made and listed here, without the method's call.
                bucket = working._by_alert[key] = []
                working._streams.append((alert.alert_stream_id(*key), bucket))
            bucket.append(duplicate)
            return None
    # ``context.grouped``, its commonest answer told without the call: no flags, grouped.
    grouped = not context.flags.flags or context.grouped(key[1])
    # ``alert.decide_and_evolve`` of an ``IngestSignal``, past the ``duplicate`` asked above.
    events, after = alert.ingest_news(
        state, signal, context.ruleset, context.silences, context.engine_version
    )
    # Positional: a call spreading a tuple with a keyword builds a tuple and a dict for it.
    return _commit(working, key, events, after, grouped, context.engine_version)


def apply_tick(
    working: Working, key: AlertKey, at: Millis, context: TenantContext
) -> Missing | None:
    """Let time reach ``at`` for one alert (escalation, flapping clear)."""
    state = working.alerts.get(key) or alert.initial_state(*key)
    command = alert.Tick(
        at=at,
        ruleset=context.ruleset,
        silences=context.silences,
        engine_version=context.engine_version,
    )
    return _commit(
        working,
        key,
        *alert.decide_and_evolve(command, state),
        grouped=context.grouped(key[1]),
        version=context.engine_version,
    )


def _commit(  # noqa: C901, PLR0912, PLR0917 -- one pass per new signal, inlined
    working: Working,
    key: AlertKey,
    events: tuple[alert.AlertEvent, ...],
    after: alert.AlertState,
    grouped: bool = True,
    version: int = versions.CURRENT,
) -> Missing | None:
    # ``incident_commands`` and ``incident.decide_and_evolve`` of each, without the commands:
    # most new signals would make one only for ``incident`` to read its fields once. Inlined:
    # a helper returning the three findings cost as much as the commands saved.
    change = _NO_CHANGE
    notified: list[alert.NotificationRequested] | None = None
    at: Millis = 0
    if grouped:
        for decided in events:
            rank = _CHANGE_RANK.get(type(decided))  # as ``incident_commands`` reads it
            if rank is None:
                continue
            at = decided.at  # type: ignore[union-attr]
            if rank == _NOTIFIED:
                if notified is None:
                    notified = [decided]  # type: ignore[list-item]
                else:
                    notified.append(decided)  # type: ignore[arg-type]
            elif rank >= change and (
                rank != _PRIORITY_RANK or decided.previous_priority is not decided.priority  # type: ignore[union-attr]
            ):
                change = rank
    episode = after.fold.episode
    if change != _NO_CHANGE and (episode is None or not after.group_key):
        change = _NO_CHANGE
    group = (key[0], after.group_key)
    # One look-up for both whether the group is loaded and its state.
    needed = change != _NO_CHANGE or notified is not None
    group_state = working.groups.get(group) if needed else None
    if needed and group_state is None:
        return Missing(groups=frozenset({group}))
    working.alerts[key] = after
    bucket = working._by_alert.get(key)  # ``alert_events``, inlined (see ``apply_signal``)
    if bucket is None:
        bucket = working._by_alert[key] = []
        working._streams.append((alert.alert_stream_id(*key), bucket))
    bucket.extend(events)
    if group_state is not None:
        bucket = working._by_group.get(group)  # ``group_events``, inlined
        if bucket is None:
            bucket = working.group_events(group)
        # Decided straight into the group's list: a change or a notification is never refused.
        dedup_key = after.dedup_key
        if change != _NO_CHANGE:
            first_id, first_reason = "", None
            if notified is not None and version >= _NOTIFIED_ON_JOINING:
                # The first notification goes with the change (into the join, if it is one).
                first, notified = notified[0], notified[1:] or None
                first_id, first_reason = first.notification_id, first.reason
            produced, group_state = incident.track(
                group_state,
                dedup_key,
                _CHANGES[change],
                episode.status,  # type: ignore[union-attr]  # a change is tracked: not None
                after.priority,
                at,
                first_id,
                first_reason,
            )
            bucket.extend(produced)
        if notified is not None:
            for notification in notified:
                bucket.extend(
                    incident.notified(
                        group_state,
                        dedup_key,
                        notification.notification_id,
                        notification.reason,
                        notification.at,
                    )
                )
        working.groups[group] = group_state
    return None


_NO_CHANGE, _NOTIFIED = -1, -2
_CHANGE_RANK: dict[type, int] = {
    alert.AlertScored: 0,
    alert.AlertAcknowledged: 1,
    alert.AlertResolved: 2,
    alert.AlertTriggered: 3,
    alert.AlertReopened: 3,
    alert.NotificationRequested: _NOTIFIED,
}
"""The rank in ``_CHANGES`` of the change each event that matters to the incident group makes
(``priority`` only when the priority moved; a notification makes none, it is recorded): any
other event is skipped, and an incident hears of the highest change a command makes."""
_CHANGES = (
    AlertChange.PRIORITY,
    AlertChange.ACKNOWLEDGED,
    AlertChange.RESOLVED,
    AlertChange.OPENED,
)
_PRIORITY_RANK = _CHANGE_RANK[alert.AlertScored]
_NOTIFIED_ON_JOINING = versions.NOTIFIED_ON_JOINING


def incident_commands(
    events: tuple[alert.AlertEvent, ...],
    after: alert.AlertState,
    version: int = versions.CURRENT,
) -> tuple[incident.IncidentCommand, ...]:
    """What an alert's decisions mean for its incident group (decided with engine
    ``version``: from version 5 the first notification goes with the change)."""
    change = _NO_CHANGE
    notifications: list[incident.RecordNotification] = []
    at: Millis = 0
    for decided in events:
        # A dict on the exact type, not a ``match``: most signals decide a lone duplicate,
        # which no case matches, and each case would be tried on it. One look-up gives the
        # change's rank too, compared as an int.
        rank = _CHANGE_RANK.get(type(decided))
        if rank is None:
            continue
        # Every one of these events carries the time the change (if any) is tracked at.
        at = decided.at  # type: ignore[union-attr]
        if rank == _NOTIFIED:
            notifications.append(
                incident.RecordNotification(
                    dedup_key=after.dedup_key,
                    notification_id=decided.notification_id,  # type: ignore[union-attr]
                    reason=decided.reason,  # type: ignore[union-attr, arg-type]
                    at=at,
                )
            )
        elif rank >= change and (
            rank != _PRIORITY_RANK
            # ``AlertScored.priority_changed``, without the property's call
            or decided.previous_priority is not decided.priority  # type: ignore[union-attr]
        ):
            change = rank
    episode = after.fold.episode  # ``AlertState.episode``, without the property's call
    if change == _NO_CHANGE or episode is None or not after.group_key:
        return tuple(notifications)
    # From version 5 the first notification goes with the change (into the join, if one).
    first = notifications.pop(0) if notifications and version >= _NOTIFIED_ON_JOINING else None
    track = incident.TrackAlert(
        dedup_key=after.dedup_key,
        change=_CHANGES[change],
        status=episode.status,
        priority=after.priority,
        at=at,
        notification_id=first.notification_id if first else "",
        reason=first.reason if first else None,
    )
    return (track, *notifications)
