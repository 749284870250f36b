"""Incidents: alerts that belong together (same group key), with a timeline.

One stream per ``(tenant, group key)`` holds that group's incidents one after another, so
"join the open incident or open a new one" is decided against one consistent state. An
incident resolves when all its alerts are resolved; a resolved incident is closed for good and a
later episode of any of its alerts opens a new incident. Its priority is its alerts' highest.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Mapping
from typing import Annotated

import msgspec

from helios.domain.errors import CommandRejected
from helios.domain.events import ADDED, event
from helios.domain.identity import stream_id
from helios.domain.values import Millis, NotificationReason, Priority, Status

MAX_NOTE_CHARS = 4096


# The group's state is frozen structs, as the alert's (ADR 0012): one is built for most alert
# decisions, and a struct is built in C and never tracked by the garbage collector (none holds
# a cycle). Fields in the order the attrs classes declared them: the snapshot schema digest
# (which lists required fields in that order) is unchanged, so stored snapshots stay readable.


class Member(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    dedup_key: str
    status: Status
    priority: Priority | None


class OpenIncident(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The group's open incident.

    Groups can hold thousands of alerts, and every alert change touches the group: members are
    kept by key (in the order they last changed) with per-urgency counts, so neither finding a
    member nor the incident's priority walks the member list.
    """

    incident_id: str
    number: int
    opened_at: Millis
    by_key: Mapping[str, Member]
    """Never mutated: a change builds a new mapping."""
    counts: tuple[int, ...]
    """Members per urgency: index 0 counts members without a priority, 5 counts P1."""
    unresolved: int
    priority: Priority | None

    @property
    def members(self) -> tuple[Member, ...]:
        return tuple(self.by_key.values())

    def member(self, dedup_key: str) -> Member | None:
        return self.by_key.get(dedup_key)


class IncidentGroup(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    tenant: str
    group_key: str
    opened: int = 0
    """How many incidents this group has had."""
    open: OpenIncident | None = None


def initial_state(tenant: str, group_key: str) -> IncidentGroup:
    return IncidentGroup(tenant=tenant, group_key=group_key)


# Asked for every signal decided: memoized on the key itself (bounded), which spares
# building the name that ``stream_id`` hashes.
@functools.lru_cache(maxsize=1 << 12)
def group_stream_id(tenant: str, group_key: str) -> uuid.UUID:
    """The stream of one incident group: its incidents one after another, with their notes."""
    return stream_id("incident-group", tenant, group_key)


def incident_id_for(tenant: str, group_key: str, number: int) -> str:
    return "inc-" + stream_id("incident", tenant, group_key, str(number)).hex[:24]


# --------------------------------------------------------------------------- commands
# Frozen structs, as the alert's commands: one is built for most alert decisions.


class AlertChange(enum.StrEnum):
    """What happened to an alert, as its incident hears of it.

    A ``StrEnum``: recorded events store the value, so records made when ``change`` was a
    plain ``str`` decode to these members and encode to the same bytes.
    """

    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    PRIORITY = "priority"


class TrackAlert(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An alert in this group changed.

    ``notification_id`` and ``reason`` (engine version 5 on): a notification decided with the
    change, recorded in the alert's join when it joins the incident, else as a
    ``RecordNotification`` would record it."""

    dedup_key: str
    change: AlertChange
    status: Status
    priority: Priority | None
    at: Millis
    notification_id: str = ""
    reason: NotificationReason | None = None


class RecordNotification(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    dedup_key: str
    notification_id: str
    reason: NotificationReason
    at: Millis


class AddNote(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    incident_id: str
    author: str
    text: str
    at: Millis


IncidentCommand = TrackAlert | RecordNotification | AddNote

# --------------------------------------------------------------------------- events
# Frozen ``msgspec.Struct``s, as the alert's decisions (ADR 0012): built in C, never tracked by
# the garbage collector; fields in name order, the order msgspec wrote the attrs classes they
# were in, so records keep their bytes.


@event("helios.incident.opened.v1")
class IncidentOpened(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    group_key: str
    incident_id: str
    number: int


@event("helios.incident.alert_joined.v1")
class IncidentAlertJoined(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An alert joined the open incident; ``notification_id`` and ``reason`` (engine version
    5 on): the notification it joined with, which no ``IncidentNotified`` records again."""

    at: Millis
    dedup_key: str
    incident_id: str
    notification_id: Annotated[str, ADDED] = ""
    priority: Priority | None
    reason: Annotated[NotificationReason | None, ADDED] = None
    status: Status


@event("helios.incident.alert_changed.v1")
class IncidentAlertChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    change: AlertChange
    dedup_key: str
    incident_id: str
    priority: Priority | None
    status: Status


@event("helios.incident.priority_changed.v1")
class IncidentPriorityChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    incident_id: str
    previous: Priority | None
    priority: Priority | None


@event("helios.incident.notified.v1")
class IncidentNotified(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    dedup_key: str
    incident_id: str
    notification_id: str
    reason: NotificationReason


@event("helios.incident.note_added.v1")
class IncidentNoteAdded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    author: str
    incident_id: str
    text: str


@event("helios.incident.resolved.v1")
class IncidentResolved(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    at: Millis
    incident_id: str


IncidentEvent = (
    IncidentOpened
    | IncidentAlertJoined
    | IncidentAlertChanged
    | IncidentPriorityChanged
    | IncidentNotified
    | IncidentNoteAdded
    | IncidentResolved
)

# --------------------------------------------------------------------------- decide / evolve


def decide(command: IncidentCommand, state: IncidentGroup) -> tuple[IncidentEvent, ...]:
    """What an alert change, a notification or a note means for the group's open incident.

    Raises:
        CommandRejected: a note that is blank or longer than ``MAX_NOTE_CHARS`` (``check_note``).
    """
    return decide_and_evolve(command, state)[0]


def check_note(text: str) -> None:
    """The rule for a note's text, which ``decide`` applies; callers may apply it before they
    look the incident up, so that a bad note is refused whether the incident exists or not.

    Raises:
        CommandRejected: the text is blank or longer than ``MAX_NOTE_CHARS``.
    """
    if not text.strip() or len(text) > MAX_NOTE_CHARS:
        raise CommandRejected("invalid note", (("text", f"must be 1..{MAX_NOTE_CHARS} chars"),))


def decide_and_evolve(
    command: IncidentCommand, state: IncidentGroup
) -> tuple[tuple[IncidentEvent, ...], IncidentGroup]:
    """The decisions, with the state they lead to (``evolve`` of each, in order).

    Raises:
        CommandRejected: see ``decide``.
    """
    # The commonest commands told by their exact type first: a class pattern costs an
    # ``isinstance`` call, and a look-up by name for each attribute it binds (one of these two
    # is asked for most alert decisions).
    if type(command) is TrackAlert:
        return _track(command, state)
    if type(command) is RecordNotification:
        return _notified(command, state), state
    match command:
        case TrackAlert():
            return _track(command, state)
        case _:
            # Notifications and notes are recorded on the incident; no state changes.
            return _record(command, state), state


def _record(
    command: RecordNotification | AddNote, state: IncidentGroup
) -> tuple[IncidentEvent, ...]:
    match command:
        case RecordNotification():
            return _notified(command, state)
        case AddNote(incident_id=incident_id, author=author, text=text, at=at):
            check_note(text)
            return (IncidentNoteAdded(incident_id=incident_id, author=author, text=text, at=at),)


def _notified(command: RecordNotification, state: IncidentGroup) -> tuple[IncidentEvent, ...]:
    return notified(state, command.dedup_key, command.notification_id, command.reason, command.at)


def notified(
    state: IncidentGroup,
    key: str,
    notification_id: str,
    reason: NotificationReason,
    at: Millis,
) -> tuple[IncidentEvent, ...]:
    """``decide`` of a ``RecordNotification`` of these fields: a notification is recorded on
    the incident its alert is a member of, if any. (The engine passes the fields of the alert's
    decision as they are, with no command made for this call alone to read.)"""
    if state.open is None or key not in state.open.by_key:  # ``member``, inlined
        return ()
    return (
        IncidentNotified(
            incident_id=state.open.incident_id,
            dedup_key=key,
            notification_id=notification_id,
            reason=reason,
            at=at,
        ),
    )


def _track(
    command: TrackAlert, state: IncidentGroup
) -> tuple[tuple[IncidentEvent, ...], IncidentGroup]:
    return track(
        state,
        command.dedup_key,
        command.change,
        command.status,
        command.priority,
        command.at,
        command.notification_id,
        command.reason,
    )


def track(  # noqa: PLR0917 -- the fields of a ``TrackAlert``, in its order
    state: IncidentGroup,
    key: str,
    change: AlertChange,
    status: Status,
    priority: Priority | None,
    at: Millis,
    notification_id: str = "",
    reason: NotificationReason | None = None,
) -> tuple[tuple[IncidentEvent, ...], IncidentGroup]:
    """``decide_and_evolve`` of a ``TrackAlert`` of these fields (the engine passes them as
    it found them, with no command made for this call alone to read)."""
    # Each decision is applied as ``evolve`` applies it, through the same helpers, without
    # matching its type again: this runs for most alert decisions.
    events: list[IncidentEvent] = []
    current = state.open
    after = state
    if current is None:
        if change is not _OPENED or status is _RESOLVED:
            return (), state
        number = state.opened + 1
        incident_id = incident_id_for(state.tenant, state.group_key, number)
        opened = IncidentOpened(
            incident_id=incident_id, number=number, group_key=state.group_key, at=at
        )
        events.append(opened)
        after = _opened(state, opened)
        member = None
    else:
        incident_id = current.incident_id
        member = current.by_key.get(key)
    if member is None:
        if change is not _OPENED:
            return tuple(events), state
        # With the notification it joined with, if any (engine version 5 on): recorded once.
        events.append(
            IncidentAlertJoined(
                incident_id=incident_id,
                dedup_key=key,
                notification_id=notification_id,
                status=status,
                priority=priority,
                reason=reason,
                at=at,
            )
        )
        notification_id = ""
        after = _with_member_of(after, key, status, priority)
    elif member.status is not status or member.priority is not priority:
        events.append(
            IncidentAlertChanged(
                incident_id=incident_id,
                dedup_key=key,
                change=change,
                status=status,
                priority=priority,
                at=at,
            )
        )
        after = _with_member_of(after, key, status, priority)
    if after.open is None:
        return tuple(events), after
    previous = current.priority if current else None
    if after.open.priority is not previous:
        events.append(
            IncidentPriorityChanged(
                incident_id=incident_id, previous=previous, priority=after.open.priority, at=at
            )
        )
    if after.open.unresolved == 0:
        events.append(IncidentResolved(incident_id=incident_id, at=at))
        after = _closed(after)
    elif notification_id and reason is not None:
        # A notification about an alert already in the incident: as ``RecordNotification``.
        events.extend(notified(after, key, notification_id, reason, at))
    return tuple(events), after


def evolve(state: IncidentGroup, event: IncidentEvent) -> IncidentGroup:
    """Apply a recorded event. Total: never raises."""
    match event:
        case IncidentOpened():
            return _opened(state, event)
        case IncidentAlertJoined(dedup_key=key, status=status, priority=priority) | (
            IncidentAlertChanged(dedup_key=key, status=status, priority=priority)
        ):
            return _with_member_of(state, key, status, priority)
        case IncidentResolved():
            return _closed(state)
    return state


# Direct constructor calls or copies made in C: these run for most decisions.


def _opened(state: IncidentGroup, opened: IncidentOpened) -> IncidentGroup:
    incident = OpenIncident(
        incident_id=opened.incident_id,
        number=opened.number,
        opened_at=opened.at,
        by_key={},
        counts=_NO_MEMBERS,
        unresolved=0,
        priority=None,
    )
    return IncidentGroup(
        tenant=state.tenant, group_key=state.group_key, opened=opened.number, open=incident
    )


def _with_member_of(
    state: IncidentGroup, key: str, status: Status, priority: Priority | None
) -> IncidentGroup:
    current = state.open
    if current is None:
        return state
    changed = _with_member(current, Member(dedup_key=key, status=status, priority=priority))
    return _replace(state, open=changed)


def _closed(state: IncidentGroup) -> IncidentGroup:
    return _replace(state, open=None)


# Copies made in C naming only what changes (a constructor call reads and names every field).
_replace = msgspec.structs.replace


_NO_MEMBERS = (0, 0, 0, 0, 0, 0)
# Enum members read off their class cost a descriptor call each (in Python): module constants
# for the ones read for most alert decisions.
_OPENED, _RESOLVED = AlertChange.OPENED, Status.RESOLVED
_BY_URGENCY = {p.urgency: p for p in Priority}


def _with_member(current: OpenIncident, member: Member) -> OpenIncident:
    """The incident once ``member`` joined or changed (it moves to the end of the order)."""
    held = current.by_key
    # ``dict.copy`` clones the table even with the hole each move to the end leaves, where
    # ``dict()`` re-inserts every member one by one once the table has one (several times
    # slower for a group of some tens of alerts).
    by_key = held.copy() if isinstance(held, dict) else dict(held)
    previous = by_key.pop(member.dedup_key, None)
    by_key[member.dedup_key] = member
    unresolved = current.unresolved + (member.status is not _RESOLVED)
    now = member.priority
    if previous is not None:
        unresolved -= previous.status is not _RESOLVED
    if previous is not None and previous.priority is now:
        # A change of status alone (the commonest change): the counts stay as they are.
        counts = current.counts
    else:
        changed = list(current.counts)
        # ``_urgency`` spelled out: this runs for most changes.
        if previous is not None:
            was = previous.priority
            changed[0 if was is None else was.urgency] -= 1
        changed[0 if now is None else now.urgency] += 1
        counts = tuple(changed)
    highest = 5
    while highest and not counts[highest]:  # a loop, not a generator: this runs for most changes
        highest -= 1
    return _replace(
        current,
        by_key=by_key,
        counts=counts,
        unresolved=unresolved,
        priority=_BY_URGENCY.get(highest),
    )
