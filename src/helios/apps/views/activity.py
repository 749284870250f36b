"""``activity``: the tenant's feed, one row per decision worth showing, in log order: at,
kind, subject (dedup key, incident id or a change's service), text (one human-readable line).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS activity (
    position BIGINT PRIMARY KEY,
    tenant TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS activity_by_tenant ON activity (tenant, position)",
)


@attrs.frozen(kw_only=True)
class ActivityRow:
    """One line of the feed; ``position`` is the log position of the decision it shows."""

    position: int
    tenant: str
    at: int
    kind: str
    subject: str
    text: str


_ADD = (
    "INSERT INTO activity (position, tenant, at, kind, subject, text) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING"
)


Values = tuple[int, str, int, str, str, str]
"""A line's columns, in ``ActivityRow``'s order (what the projector makes: a tuple per line,
not a row object turned into one)."""


def add(cursor: Cursor, rows: Sequence[Values]) -> None:
    """Write the lines, in one statement (each once: a page replayed after a crash writes
    nothing new)."""
    if rows:
        cursor.executemany(_ADD, rows)


def add_unless_change_known(cursor: Cursor, row: ActivityRow, *, change_id: str) -> None:
    """Write the line of a change, unless the tenant's ``changes`` already hold that change:
    the same change delivered again (after the API's dedup window) is one line."""
    cursor.execute(
        "INSERT INTO activity (position, tenant, at, kind, subject, text) "
        "SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM changes WHERE tenant = ? AND change_id = ?) "
        "ON CONFLICT (position) DO NOTHING",
        (row.position, row.tenant, row.at, row.kind, row.subject, row.text, row.tenant, change_id),
    )


def page(
    db: ReadModels, *, tenant: str, kind: str | None = None, before: int | None = None, limit: int
) -> tuple[list[ActivityRow], bool]:
    """Up to ``limit`` of the tenant's lines, latest first, before the log position ``before``;
    and whether more follow.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    clauses = ["tenant = ?"]
    params: list[object] = [tenant]
    if kind:
        clauses.append("kind = ?")
        params.append(kind)
    if before is not None:
        clauses.append("position < ?")
        params.append(before)
    rows = db.query(
        "SELECT position, tenant, at, kind, subject, text FROM activity "
        f"WHERE {' AND '.join(clauses)} ORDER BY position DESC LIMIT ?",
        [*params, limit + 1],
    )
    lines = [
        ActivityRow(position=p, tenant=t, at=at, kind=k, subject=s, text=x)
        for p, t, at, k, s, x in rows[:limit]
    ]
    return lines, len(rows) > limit


def after(db: ReadModels, *, tenant: str, position: int, limit: int) -> list[ActivityRow]:
    """Up to ``limit`` of the tenant's lines after the log position ``position``, oldest first
    (what a live client has not seen yet).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT position, tenant, at, kind, subject, text FROM activity "
        "WHERE tenant = ? AND position > ? ORDER BY position LIMIT ?",
        (tenant, position, limit),
    )
    return [
        ActivityRow(position=p, tenant=t, at=at, kind=k, subject=s, text=x)
        for p, t, at, k, s, x in rows
    ]


def latest_position(db: ReadModels, *, tenant: str) -> int:
    """The log position of the tenant's latest line (0: none yet).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query("SELECT MAX(position) FROM activity WHERE tenant = ?", (tenant,))
    return int(rows[0][0] or 0) if rows else 0
