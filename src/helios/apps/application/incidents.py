"""Incident use cases for people: the list, one incident with its members and timeline (from
the read models), and a note on an incident's timeline.

An incident lives in its group's stream (``helios.domain.incident``); the read models say which
group an incident id belongs to, and the note is decided and appended there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs

from helios.apps.application.paging import Filters, Page, page_of
from helios.apps.application.repository import execute
from helios.apps.views.database import ReadModels
from helios.domain import engine, incident
from helios.domain.values import Millis
from helios.ports.event_store import EventStore


class NoSuchIncident(LookupError):
    """The tenant has no incident with this id."""


_COLUMNS = (
    "incident_id, group_key, number, status, priority, alerts, opened_at, resolved_at, "
    "last_change_at"
)


@attrs.frozen(kw_only=True)
class IncidentRow:
    incident_id: str
    group_key: str
    number: int
    status: Literal["open", "resolved"]
    priority: str | None
    alerts: int
    opened_at: Millis
    resolved_at: Millis | None
    last_change_at: Millis

    @classmethod
    def of(cls, row: Sequence[Any]) -> IncidentRow:
        return cls(
            incident_id=row[0],
            group_key=row[1],
            number=row[2],
            status=row[3],
            priority=row[4],
            alerts=row[5],
            opened_at=row[6],
            resolved_at=row[7],
            last_change_at=row[8],
        )


@attrs.frozen(kw_only=True)
class MemberRow:
    alert_id: str | None
    """The member's alert id (None until the alert's own row is projected)."""
    dedup_key: str
    status: str
    priority: str | None


@attrs.frozen(kw_only=True)
class TimelineRow:
    at: Millis
    kind: str
    dedup_key: str | None
    detail: str
    """The entry's detail as JSON text."""


@attrs.frozen(kw_only=True)
class IncidentView:
    incident: IncidentRow
    members: tuple[MemberRow, ...]
    timeline: tuple[TimelineRow, ...]


def incident_page(
    read_models: ReadModels,
    *,
    tenant: str,
    status: str | None,
    after: tuple[int, str] | None,
    limit: int,
) -> Page[IncidentRow]:
    """The tenant's incidents (of ``status`` when given), most recently opened first, after
    the (opened_at, incident_id) position ``after``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    filters = Filters()
    filters.equal("tenant", tenant)
    if status:
        filters.equal("status", status)
    filters.after("opened_at", "incident_id", after)
    return page_of(
        read_models,
        f"SELECT {_COLUMNS} FROM incidents",
        filters,
        order="opened_at DESC, incident_id DESC",
        limit=limit,
        row=IncidentRow.of,
    )


def incident_view(read_models: ReadModels, *, tenant: str, incident_id: str) -> IncidentView:
    """One of the tenant's incidents with its members (by dedup key) and its timeline.

    Raises:
        NoSuchIncident: the tenant has no such incident.
        StoreUnavailable: the read models cannot be reached.
    """
    rows = read_models.query(
        f"SELECT {_COLUMNS} FROM incidents WHERE incident_id = ? AND tenant = ?",
        (incident_id, tenant),
    )
    if not rows:
        raise NoSuchIncident(incident_id)
    members = read_models.query(
        "SELECT a.stream_id, m.dedup_key, m.status, m.priority FROM incident_alerts m "
        "LEFT JOIN alerts a ON a.tenant = ? AND a.dedup_key = m.dedup_key "
        "WHERE m.incident_id = ? ORDER BY m.dedup_key",
        (tenant, incident_id),
    )
    timeline = read_models.query(
        "SELECT at, kind, dedup_key, detail FROM incident_timeline WHERE incident_id = ? "
        "ORDER BY position",
        (incident_id,),
    )
    return IncidentView(
        incident=IncidentRow.of(rows[0]),
        members=tuple(
            MemberRow(alert_id=m[0], dedup_key=m[1], status=m[2], priority=m[3]) for m in members
        ),
        timeline=tuple(
            TimelineRow(at=t[0], kind=t[1], dedup_key=t[2], detail=t[3]) for t in timeline
        ),
    )


def add_note(
    store: EventStore,
    read_models: ReadModels,
    *,
    tenant: str,
    incident_id: str,
    author: str,
    text: str,
    at: Millis,
) -> incident.IncidentNoteAdded:
    """Add a note to an incident's timeline; returns the recorded note.

    Raises:
        CommandRejected: the note breaks the decider's rule (blank, too long), checked before
            the incident is looked up.
        NoSuchIncident: the tenant has no such incident.
        ConcurrencyConflict: the group's stream kept changing.
        StoreUnavailable: the store or the read models cannot be reached.
    """
    incident.check_note(text)
    group_key = incident_group(read_models, tenant=tenant, incident_id=incident_id)
    if group_key is None:
        raise NoSuchIncident(incident_id)
    command = incident.AddNote(incident_id=incident_id, author=author, text=text, at=at)
    _, events = execute(
        store,
        engine.group_stream(tenant, group_key),
        initial=lambda: incident.initial_state(tenant, group_key),
        evolve=incident.evolve,
        decide=lambda state: incident.decide(command, state),
    )
    [added] = events
    assert isinstance(added, incident.IncidentNoteAdded)
    return added


def incident_group(read_models: ReadModels, *, tenant: str, incident_id: str) -> str | None:
    """The group key of one of the tenant's incidents (None: no such incident).

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    rows = read_models.query(
        "SELECT group_key FROM incidents WHERE incident_id = ? AND tenant = ?",
        (incident_id, tenant),
    )
    return str(rows[0][0]) if rows else None
