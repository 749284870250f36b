"""Incidents: alerts that belong together (same group key), with a timeline.

One stream per ``(tenant, group key)`` holds that group's incidents one after another, so
"join the open incident or open a new one" is decided against one consistent state. An
incident resolves when all its alerts are resolved; a resolved incident is closed for good and a
later episode of any of its alerts opens a new incident. Its priority is its alerts' highest.
"""

from __future__ import annotations

import attrs

from helios.domain.events import event
from helios.domain.identity import stream_id
from helios.domain.values import Millis, Priority, Status


@attrs.frozen(kw_only=True)
class Member:
    dedup_key: str
    status: Status
    priority: Priority | None


@attrs.frozen(kw_only=True)
class OpenIncident:
    incident_id: str
    number: int
    opened_at: Millis
    members: tuple[Member, ...]
    priority: Priority | None

    def member(self, dedup_key: str) -> Member | None:
        return next((m for m in self.members if m.dedup_key == dedup_key), None)


@attrs.frozen(kw_only=True)
class IncidentGroup:
    tenant: str
    group_key: str
    opened: int = 0
    """How many incidents this group has had."""
    open: OpenIncident | None = None


def initial_state(tenant: str, group_key: str) -> IncidentGroup:
    return IncidentGroup(tenant=tenant, group_key=group_key)


def incident_id_for(tenant: str, group_key: str, number: int) -> str:
    return "inc-" + stream_id("incident", tenant, group_key, str(number)).hex[:24]


# --------------------------------------------------------------------------- commands


@attrs.frozen(kw_only=True)
class TrackAlert:
    """An alert in this group changed: ``change`` is opened, acknowledged, resolved, priority."""

    dedup_key: str
    change: str
    status: Status
    priority: Priority | None
    at: Millis


@attrs.frozen(kw_only=True)
class RecordNotification:
    dedup_key: str
    notification_id: str
    reason: str
    at: Millis


@attrs.frozen(kw_only=True)
class AddNote:
    incident_id: str
    author: str
    text: str
    at: Millis


IncidentCommand = TrackAlert | RecordNotification | AddNote

# --------------------------------------------------------------------------- events


@event("helios.incident.opened.v1")
@attrs.frozen(kw_only=True)
class IncidentOpened:
    incident_id: str
    number: int
    group_key: str
    at: Millis


@event("helios.incident.alert_joined.v1")
@attrs.frozen(kw_only=True)
class IncidentAlertJoined:
    incident_id: str
    dedup_key: str
    status: Status
    priority: Priority | None
    at: Millis


@event("helios.incident.alert_changed.v1")
@attrs.frozen(kw_only=True)
class IncidentAlertChanged:
    incident_id: str
    dedup_key: str
    change: str
    status: Status
    priority: Priority | None
    at: Millis


@event("helios.incident.priority_changed.v1")
@attrs.frozen(kw_only=True)
class IncidentPriorityChanged:
    incident_id: str
    previous: Priority | None
    priority: Priority | None
    at: Millis


@event("helios.incident.notified.v1")
@attrs.frozen(kw_only=True)
class IncidentNotified:
    incident_id: str
    dedup_key: str
    notification_id: str
    reason: str
    at: Millis


@event("helios.incident.note_added.v1")
@attrs.frozen(kw_only=True)
class IncidentNoteAdded:
    incident_id: str
    author: str
    text: str
    at: Millis


@event("helios.incident.resolved.v1")
@attrs.frozen(kw_only=True)
class IncidentResolved:
    incident_id: str
    at: Millis


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
    """What an alert change, a notification or a note means for the group's open incident."""
    match command:
        case TrackAlert():
            return _track(command, state)
        case RecordNotification(dedup_key=key, notification_id=nid, reason=reason, at=at):
            if state.open is None or state.open.member(key) is None:
                return ()
            return (
                IncidentNotified(
                    incident_id=state.open.incident_id,
                    dedup_key=key,
                    notification_id=nid,
                    reason=reason,
                    at=at,
                ),
            )
        case AddNote(incident_id=incident_id, author=author, text=text, at=at):
            return (IncidentNoteAdded(incident_id=incident_id, author=author, text=text, at=at),)


def _track(command: TrackAlert, state: IncidentGroup) -> tuple[IncidentEvent, ...]:
    events: list[IncidentEvent] = []
    current = state.open
    if current is None:
        if command.change != "opened" or command.status is Status.RESOLVED:
            return ()
        number = state.opened + 1
        incident_id = incident_id_for(state.tenant, state.group_key, number)
        events.append(
            IncidentOpened(
                incident_id=incident_id, number=number, group_key=state.group_key, at=command.at
            )
        )
    else:
        incident_id = current.incident_id
    member = current.member(command.dedup_key) if current else None
    if member is None:
        if command.change != "opened":
            return tuple(events)
        events.append(
            IncidentAlertJoined(
                incident_id=incident_id,
                dedup_key=command.dedup_key,
                status=command.status,
                priority=command.priority,
                at=command.at,
            )
        )
    elif member.status is not command.status or member.priority is not command.priority:
        events.append(
            IncidentAlertChanged(
                incident_id=incident_id,
                dedup_key=command.dedup_key,
                change=command.change,
                status=command.status,
                priority=command.priority,
                at=command.at,
            )
        )
    after = state
    for decided in events:
        after = evolve(after, decided)
    if after.open is None:
        return tuple(events)
    previous = current.priority if current else None
    if after.open.priority is not previous:
        events.append(
            IncidentPriorityChanged(
                incident_id=incident_id,
                previous=previous,
                priority=after.open.priority,
                at=command.at,
            )
        )
    if all(m.status is Status.RESOLVED for m in after.open.members):
        events.append(IncidentResolved(incident_id=incident_id, at=command.at))
    return tuple(events)


def evolve(state: IncidentGroup, event: IncidentEvent) -> IncidentGroup:
    """Apply a recorded event. Total: never raises."""
    # Direct constructor calls rather than attrs.evolve: this runs for most decisions.
    match event:
        case IncidentOpened(incident_id=incident_id, number=number, at=at):
            opened = OpenIncident(
                incident_id=incident_id, number=number, opened_at=at, members=(), priority=None
            )
            return IncidentGroup(
                tenant=state.tenant, group_key=state.group_key, opened=number, open=opened
            )
        case IncidentAlertJoined(dedup_key=key, status=status, priority=priority) | (
            IncidentAlertChanged(dedup_key=key, status=status, priority=priority)
        ):
            current = state.open
            if current is None:
                return state
            others = tuple(m for m in current.members if m.dedup_key != key)
            members = (*others, Member(dedup_key=key, status=status, priority=priority))
            changed = OpenIncident(
                incident_id=current.incident_id,
                number=current.number,
                opened_at=current.opened_at,
                members=members,
                priority=_highest(members),
            )
            return IncidentGroup(
                tenant=state.tenant, group_key=state.group_key, opened=state.opened, open=changed
            )
        case IncidentResolved():
            return IncidentGroup(
                tenant=state.tenant, group_key=state.group_key, opened=state.opened, open=None
            )
    return state


def _highest(members: tuple[Member, ...]) -> Priority | None:
    """The most urgent priority of the members (the first of equals, as ``max`` picks)."""
    best: Priority | None = None
    urgency = 0
    for member in members:
        priority = member.priority
        if priority is not None and priority.urgency > urgency:
            best, urgency = priority, priority.urgency
    return best
