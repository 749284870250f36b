"""The incident tables.

``incidents`` — one row per incident: tenant, group_key, number, status (``open`` /
    ``resolved``), priority, alerts (members count), opened_at, resolved_at, last_change_at.
``incident_alerts`` — members of each incident with their status and priority.
``incident_timeline`` — per incident, in log order: at, kind (``opened``, ``alert_joined``,
    ``alert_changed``, ``priority_changed``, ``notified``, ``note_added``, ``resolved``),
    dedup_key, detail (JSON).
"""

from __future__ import annotations

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


def open_incident(
    cursor: Cursor, *, incident_id: str, tenant: str, group_key: str, number: int, at: int
) -> None:
    """A new open incident without members (written once)."""
    cursor.execute(
        "INSERT INTO incidents (incident_id, tenant, group_key, number, status, priority, "
        "alerts, opened_at, last_change_at) VALUES (?, ?, ?, ?, 'open', NULL, 0, ?, ?) "
        "ON CONFLICT (incident_id) DO NOTHING",
        (incident_id, tenant, group_key, number, at, at),
    )


def set_member(
    cursor: Cursor, *, incident_id: str, dedup_key: str, status: str, priority: str | None, at: int
) -> None:
    """Add or update a member, and recount the incident's members."""
    cursor.execute(
        "INSERT INTO incident_alerts (incident_id, dedup_key, status, priority) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, dedup_key) DO UPDATE SET "
        "status = excluded.status, priority = excluded.priority",
        (incident_id, dedup_key, status, priority),
    )
    cursor.execute(
        "UPDATE incidents SET last_change_at = ?, alerts = (SELECT COUNT(*) FROM "
        "incident_alerts WHERE incident_alerts.incident_id = ?) WHERE incident_id = ?",
        (at, incident_id, incident_id),
    )


def set_priority(cursor: Cursor, *, incident_id: str, priority: str | None, at: int) -> None:
    cursor.execute(
        "UPDATE incidents SET priority = ?, last_change_at = ? WHERE incident_id = ?",
        (priority, at, incident_id),
    )


def resolve(cursor: Cursor, *, incident_id: str, at: int) -> None:
    cursor.execute(
        "UPDATE incidents SET status = 'resolved', resolved_at = ?, last_change_at = ? "
        "WHERE incident_id = ?",
        (at, at, incident_id),
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


def add_to_timeline(cursor: Cursor, row: TimelineRow) -> None:
    """Write the timeline entry (once: a page replayed after a crash writes nothing new)."""
    cursor.execute(
        "INSERT INTO incident_timeline (incident_id, position, at, kind, dedup_key, detail) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, position) DO NOTHING",
        (row.incident_id, row.position, row.at, row.kind, row.dedup_key, row.detail),
    )


def counts_by_status(db: ReadModels) -> dict[str, int]:
    """How many incidents are ``open`` and ``resolved``, every tenant together.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    return {
        str(status): int(n)
        for status, n in db.query("SELECT status, COUNT(*) FROM incidents GROUP BY status")
    }
