"""The incident tables.

``incidents`` — one row per incident: tenant, group_key, number, status (``open`` /
    ``resolved``), priority, alerts (members count), opened_at, resolved_at, last_change_at.
``incident_alerts`` — members of each incident with their status and priority.
``incident_timeline`` — per incident, in log order: at, kind (``opened``, ``alert_joined``,
    ``alert_changed``, ``priority_changed``, ``notified``, ``note_added``, ``resolved``),
    dedup_key, detail (JSON).
"""

from __future__ import annotations

from typing import Literal

import attrs

from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS incidents (
    incident_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    group_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    priority TEXT,
    alerts INTEGER NOT NULL DEFAULT 0,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT,
    last_change_at BIGINT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS incidents_by_status ON incidents (tenant, status)",
    # The list's order (opened first, ties by id).
    "CREATE INDEX IF NOT EXISTS incidents_by_opened ON incidents (tenant, opened_at, incident_id)",
    """CREATE TABLE IF NOT EXISTS incident_alerts (
    incident_id TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT,
    PRIMARY KEY (incident_id, dedup_key)
)""",
    """CREATE TABLE IF NOT EXISTS incident_timeline (
    incident_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    dedup_key TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
)""",
)

TABLES = ("incidents", "incident_alerts", "incident_timeline")


_OPEN = (
    "INSERT INTO incidents (incident_id, tenant, group_key, number, status, priority, "
    "alerts, opened_at, last_change_at) VALUES (?, ?, ?, ?, 'open', NULL, 0, ?, ?) "
    "ON CONFLICT (incident_id) DO NOTHING"
)
_MEMBER = (
    "INSERT INTO incident_alerts (incident_id, dedup_key, status, priority) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, dedup_key) DO UPDATE SET "
    "status = excluded.status, priority = excluded.priority"
)
_RECOUNT = (
    "UPDATE incidents SET last_change_at = ?, alerts = (SELECT COUNT(*) FROM "
    "incident_alerts WHERE incident_alerts.incident_id = ?) WHERE incident_id = ?"
)
_PRIORITY = "UPDATE incidents SET priority = ?, last_change_at = ? WHERE incident_id = ?"
_RESOLVE = (
    "UPDATE incidents SET status = 'resolved', resolved_at = ?, last_change_at = ? "
    "WHERE incident_id = ?"
)
_TIMELINE = (
    "INSERT INTO incident_timeline (incident_id, position, at, kind, dedup_key, detail) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, position) DO NOTHING"
)


@attrs.frozen(kw_only=True)
class TimelineRow:
    incident_id: str
    position: int
    at: int
    kind: str
    dedup_key: str | None
    detail: str
    """JSON object."""


TimelineValues = tuple[str, int, int, str, str | None, str]
"""A timeline entry's columns, in ``TimelineRow``'s order."""


class PageWrites:
    """What the events of one page change in the incident tables, gathered in log order and
    written with one ``executemany`` per table (or per run of one kind of statement on
    ``incidents``), not a statement per event.

    The result is that of running each event's statements in log order: the member and
    timeline rows only touch their own table and a row per event; the statements on
    ``incidents`` keep their order; each recount sets both the member count and the time, so
    of consecutive recounts of one incident only the last is run (after every member row:
    it counts the same members the last one in log order counted).
    """

    def __init__(self) -> None:
        self._members: list[tuple[str, str, str, str | None]] = []
        self._timeline: list[TimelineValues] = []
        self._incidents: list[tuple[str, dict[object, tuple[object, ...]]]] = []
        self._steps = 0

    def open(self, *, incident_id: str, tenant: str, group_key: str, number: int, at: int) -> None:
        """A new open incident without members (written once)."""
        self._incident(_OPEN, incident_id, (incident_id, tenant, group_key, number, at, at))

    def member(
        self, *, incident_id: str, dedup_key: str, status: str, priority: str | None, at: int
    ) -> None:
        """Add or update a member, and recount the incident's members."""
        self._members.append((incident_id, dedup_key, status, priority))
        self._incident(_RECOUNT, incident_id, (at, incident_id, incident_id))

    def priority(self, *, incident_id: str, priority: str | None, at: int) -> None:
        self._incident(_PRIORITY, incident_id, (priority, at, incident_id))

    def resolve(self, *, incident_id: str, at: int) -> None:
        self._incident(_RESOLVE, incident_id, (at, at, incident_id))

    def timeline(self, row: TimelineValues) -> None:
        """The timeline entry (once: a page replayed after a crash writes nothing new)."""
        self._timeline.append(row)

    def _incident(self, sql: str, incident_id: str, params: tuple[object, ...]) -> None:
        # Every statement but a recount runs (keyed by its step); a recount replaces the
        # incident's earlier one of the same run.
        key: object = incident_id if sql == _RECOUNT else self._steps
        self._steps += 1
        if not self._incidents or self._incidents[-1][0] != sql:
            self._incidents.append((sql, {}))
        self._incidents[-1][1][key] = params

    def write(self, cursor: Cursor) -> None:
        if self._members:
            cursor.executemany(_MEMBER, self._members)
        for sql, statements in self._incidents:
            cursor.executemany(sql, list(statements.values()))
        if self._timeline:
            cursor.executemany(_TIMELINE, self._timeline)


def counts_by_status(db: ReadModels) -> dict[str, int]:
    """How many incidents are ``open`` and ``resolved``, every tenant together.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    return {
        str(status): int(n)
        for status, n in db.query("SELECT status, COUNT(*) FROM incidents GROUP BY status")
    }


IncidentStatus = Literal["open", "resolved"]


@attrs.frozen(kw_only=True)
class IncidentRow:
    incident_id: str
    tenant: str
    group_key: str
    number: int
    status: IncidentStatus
    priority: str | None
    alerts: int
    """How many alerts are members."""
    opened_at: int
    resolved_at: int | None
    last_change_at: int


COLUMNS = tuple(field.name for field in attrs.fields(IncidentRow))
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM incidents"
STATUSES: tuple[IncidentStatus, ...] = ("open", "resolved")


def page(
    db: ReadModels,
    *,
    tenant: str,
    status: str | None = None,
    after: tuple[int, str] | None = None,
    limit: int,
) -> tuple[list[IncidentRow], bool]:
    """Up to ``limit`` of the tenant's incidents, most recently opened first (ties by id,
    descending), after the (opened_at, incident_id) position ``after``; and whether more
    follow.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    clauses = ["tenant = ?"]
    params: list[object] = [tenant]
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if after is not None:
        clauses.append("(opened_at < ? OR (opened_at = ? AND incident_id < ?))")
        params += [after[0], after[0], after[1]]
    rows = db.query(
        f"{_SELECT} WHERE {' AND '.join(clauses)} "
        "ORDER BY opened_at DESC, incident_id DESC LIMIT ?",
        [*params, limit + 1],
    )
    return [IncidentRow(**dict(zip(COLUMNS, r, strict=True))) for r in rows[:limit]], (
        len(rows) > limit
    )


def by_id(db: ReadModels, *, tenant: str, incident_id: str) -> IncidentRow | None:
    """The tenant's incident ``incident_id`` (another tenant's: None).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(f"{_SELECT} WHERE incident_id = ? AND tenant = ?", (incident_id, tenant))
    return IncidentRow(**dict(zip(COLUMNS, rows[0], strict=True))) if rows else None


@attrs.frozen(kw_only=True)
class MemberRow:
    alert_id: str | None
    """The member alert's stream id (None if its row is gone, e.g. mid-rebuild)."""
    dedup_key: str
    status: str
    priority: str | None


def members(db: ReadModels, *, tenant: str, incident_id: str) -> list[MemberRow]:
    """The incident's alerts, by dedup key.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT a.stream_id, m.dedup_key, m.status, m.priority FROM incident_alerts m "
        "LEFT JOIN alerts a ON a.tenant = ? AND a.dedup_key = m.dedup_key "
        "WHERE m.incident_id = ? ORDER BY m.dedup_key",
        (tenant, incident_id),
    )
    return [MemberRow(alert_id=a, dedup_key=k, status=s, priority=p) for a, k, s, p in rows]


def timeline(db: ReadModels, *, incident_id: str) -> list[TimelineRow]:
    """The incident's timeline, in log order.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT incident_id, position, at, kind, dedup_key, detail FROM incident_timeline "
        "WHERE incident_id = ? ORDER BY position",
        (incident_id,),
    )
    return [
        TimelineRow(incident_id=i, position=p, at=at, kind=k, dedup_key=d, detail=detail)
        for i, p, at, k, d, detail in rows
    ]
