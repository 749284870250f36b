"""``changes``: one row per distinct change (deploys, config changes; never alerts): tenant,
change_id, position, ingest_id, integration, source, service, origin, summary, occurred_at,
received_at, links (JSON list), details (JSON object)."""

from __future__ import annotations

import attrs

from helios.apps.views import search
from helios.ports.read_models import Cursor, ReadModels, Row

DDL = (
    """CREATE TABLE IF NOT EXISTS changes (
    tenant TEXT NOT NULL,
    change_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    ingest_id TEXT NOT NULL,
    integration TEXT NOT NULL,
    source TEXT NOT NULL,
    service TEXT NOT NULL,
    origin TEXT NOT NULL,
    summary TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    links TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (tenant, change_id)
)""",
    "CREATE INDEX IF NOT EXISTS changes_by_time ON changes (tenant, occurred_at, change_id)",
    "CREATE INDEX IF NOT EXISTS changes_by_service ON changes (tenant, service, occurred_at)",
)


@attrs.frozen(kw_only=True)
class ChangeRow:
    tenant: str
    change_id: str
    position: int
    ingest_id: str
    integration: str
    source: str
    service: str
    origin: str
    summary: str
    occurred_at: int
    received_at: int
    links: str
    details: str


COLUMNS = tuple(field.name for field in attrs.fields(ChangeRow))


def add(cursor: Cursor, row: ChangeRow) -> None:
    """Write the change unless the tenant already has one with its id (the first one stays)."""
    cursor.execute(
        f"INSERT INTO changes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
        "ON CONFLICT (tenant, change_id) DO NOTHING",
        attrs.astuple(row),
    )


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM changes"


def _row(values: Row) -> ChangeRow:
    return ChangeRow(**dict(zip(COLUMNS, values, strict=True)))


@attrs.frozen(kw_only=True)
class ChangeFilter:
    """What ``/v1/changes`` lists: filters combine with AND; empty ones do not filter."""

    tenant: str
    service: str | None = None
    source: str | None = None
    text: str | None = None
    """In the summary, case-insensitive (a scan)."""
    since: int | None = None
    until: int | None = None
    after: tuple[int, str] | None = None
    """Start after this (occurred_at, change_id) position of the list's order."""


def page(db: ReadModels, where: ChangeFilter, *, limit: int) -> tuple[list[ChangeRow], bool]:
    """Up to ``limit`` changes, most recent first (ties by id, descending); and whether more
    follow.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    clauses = ["tenant = ?"]
    params: list[object] = [where.tenant]
    if where.service:
        clauses.append("service = ?")
        params.append(where.service)
    if where.source:
        clauses.append("source = ?")
        params.append(where.source)
    if where.text:
        clauses.append(f"LOWER(summary) LIKE ? {search.ESCAPE}")
        params.append(search.anywhere(where.text.lower()))
    if where.since is not None:
        clauses.append("occurred_at >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append("occurred_at < ?")
        params.append(where.until)
    if where.after is not None:
        at, change_id = where.after
        clauses.append("(occurred_at < ? OR (occurred_at = ? AND change_id < ?))")
        params += [at, at, change_id]
    rows = db.query(
        f"{_SELECT} WHERE {' AND '.join(clauses)} "
        "ORDER BY occurred_at DESC, change_id DESC LIMIT ?",
        [*params, limit + 1],
    )
    return [_row(r) for r in rows[:limit]], len(rows) > limit


def recent(
    db: ReadModels, *, tenant: str, service: str, since: int, until: int, limit: int
) -> list[ChangeRow]:
    """The changes of ``service`` made between ``since`` and ``until`` (both included),
    newest first, at most ``limit``.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        f"{_SELECT} WHERE tenant = ? AND service = ? AND occurred_at >= ? AND occurred_at <= ? "
        "ORDER BY occurred_at DESC, change_id DESC LIMIT ?",
        (tenant, service, since, until, limit),
    )
    return [_row(r) for r in rows]
