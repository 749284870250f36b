"""``alert_deadlines``: one row per open alert (triggered or acknowledged), with when a tick
can next change it (``next_due_at``, NULL: no tick can until something else does), so that the
scheduler ticks only the alerts that are due rather than every open one.

Columns: tenant, dedup_key; what a tick acts on (``helios.domain.deadlines.Pending``):
episode_started_at, escalatable (0 or 1), priority (``P1``…``P5`` or NULL), flapping (0 or 1),
last_transition; and next_due_at, computed from those under the tenant's ruleset in force.

Written by the projector with the alert's row (a closed alert's row is deleted), and
recomputed for the tenant's rows when its ruleset changes. Read models made before this table
get a row per open alert when opened (``fill_from_alerts``, a recorded migration): their state
is not in the read models, so they are due at once (``episode_started_at`` NULL) until the
projector learns it, which it does when the alert is next ticked or changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from helios.domain.deadlines import IMMEDIATELY, Pending, due_at
from helios.domain.ruleset import Ruleset
from helios.domain.values import Millis, Priority
from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS alert_deadlines (
    tenant TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    episode_started_at BIGINT,
    escalatable INTEGER NOT NULL DEFAULT 0,
    priority TEXT,
    flapping INTEGER NOT NULL DEFAULT 0,
    last_transition BIGINT,
    next_due_at BIGINT,
    PRIMARY KEY (tenant, dedup_key)
)""",
    # The scheduler's question: which alerts are due, oldest deadline first (a page at a time).
    "CREATE INDEX IF NOT EXISTS alert_deadlines_by_due ON alert_deadlines "
    "(next_due_at, tenant, dedup_key)",
)


@attrs.frozen(kw_only=True)
class DeadlineRow:
    """One row of ``alert_deadlines``; ``pending`` None: the alert's state is not known yet."""

    tenant: str
    dedup_key: str
    pending: Pending | None
    next_due_at: Millis | None


def row_for(tenant: str, dedup_key: str, pending: Pending, ruleset: Ruleset) -> DeadlineRow:
    """The row of an open alert in this state under ``ruleset``."""
    return DeadlineRow(
        tenant=tenant, dedup_key=dedup_key, pending=pending, next_due_at=due_at(pending, ruleset)
    )


_COLUMNS = (
    "tenant, dedup_key, episode_started_at, escalatable, priority, flapping, last_transition, "
    "next_due_at"
)
_UPSERT = f"""
INSERT INTO alert_deadlines ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, dedup_key) DO UPDATE SET
    episode_started_at = excluded.episode_started_at, escalatable = excluded.escalatable,
    priority = excluded.priority, flapping = excluded.flapping,
    last_transition = excluded.last_transition, next_due_at = excluded.next_due_at
"""


def _values(row: DeadlineRow) -> tuple[object, ...]:
    pending = row.pending
    if pending is None:
        return (row.tenant, row.dedup_key, None, 0, None, 0, None, row.next_due_at)
    return (
        row.tenant,
        row.dedup_key,
        pending.episode_started_at,
        int(pending.escalatable),
        pending.priority.value if pending.priority else None,
        int(pending.flapping),
        pending.last_transition,
        row.next_due_at,
    )


def replace(cursor: Cursor, rows: Sequence[DeadlineRow], closed: Sequence[tuple[str, str]]) -> None:
    """Write the rows of open alerts and delete those of ``closed`` (tenant, dedup key)s."""
    if rows:
        cursor.executemany(_UPSERT, [_values(row) for row in rows])
    if closed:
        cursor.executemany(
            "DELETE FROM alert_deadlines WHERE tenant = ? AND dedup_key = ?", list(closed)
        )


def reschedule(cursor: Cursor, tenant: str, ruleset: Ruleset) -> int:
    """Recompute every ``next_due_at`` of the tenant under ``ruleset`` (its rules changed);
    returns how many moved. Rows whose state is not known yet stay due at once."""
    cursor.execute(
        "SELECT dedup_key, episode_started_at, escalatable, priority, flapping, "
        "last_transition, next_due_at FROM alert_deadlines "
        "WHERE tenant = ? AND episode_started_at IS NOT NULL",
        (tenant,),
    )
    moved = []
    for key, started, escalatable, priority, flapping, last, before in cursor.fetchall():
        pending = Pending(
            episode_started_at=started,
            escalatable=bool(escalatable),
            priority=Priority(priority) if priority else None,
            flapping=bool(flapping),
            last_transition=last,
        )
        after = due_at(pending, ruleset)
        if after != before:
            moved.append((after, tenant, key))
    if moved:
        cursor.executemany(
            "UPDATE alert_deadlines SET next_due_at = ? WHERE tenant = ? AND dedup_key = ?", moved
        )
    return len(moved)


def unknown(db: ReadModels, keys: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Those of ``keys`` (tenant, dedup key) whose row waits for the alert's state.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    found: list[tuple[str, str]] = []
    for start in range(0, len(keys), _LOOKUP_BATCH):
        chunk = keys[start : start + _LOOKUP_BATCH]
        wanted = " OR ".join(["(tenant = ? AND dedup_key = ?)"] * len(chunk))
        rows = db.query(
            f"SELECT tenant, dedup_key FROM alert_deadlines WHERE ({wanted}) "
            "AND episode_started_at IS NULL",
            [value for pair in chunk for value in pair],
        )
        found += [(str(tenant), str(key)) for tenant, key in rows]
    return found


_LOOKUP_BATCH = 200


def tenants(db: ReadModels) -> list[str]:
    """Every tenant with an open alert.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    return [str(tenant) for (tenant,) in db.query("SELECT DISTINCT tenant FROM alert_deadlines")]


def due(
    db: ReadModels, *, at: Millis, limit: int, after: tuple[int, str, str] | None = None
) -> list[tuple[int, str, str]]:
    """Up to ``limit`` open alerts due by ``at``, as (next_due_at, tenant, dedup key), oldest
    deadline first; ``after`` continues from the last one of the previous page.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    if after is None:
        rows = db.query(
            "SELECT next_due_at, tenant, dedup_key FROM alert_deadlines WHERE next_due_at <= ? "
            "ORDER BY next_due_at, tenant, dedup_key LIMIT ?",
            (at, limit),
        )
    else:
        due_at_, tenant, key = after
        rows = db.query(
            "SELECT next_due_at, tenant, dedup_key FROM alert_deadlines WHERE next_due_at <= ? "
            "AND (next_due_at > ? OR (next_due_at = ? AND (tenant > ? OR "
            "(tenant = ? AND dedup_key > ?)))) "
            "ORDER BY next_due_at, tenant, dedup_key LIMIT ?",
            (at, due_at_, due_at_, tenant, tenant, key, limit),
        )
    return [(int(when), str(tenant), str(key)) for when, tenant, key in rows]


def fill_from_alerts(cursor: Cursor) -> None:
    """A row, due at once, for each open alert (a migration, run once, in the transaction that
    records it): their deadlines are unknown until the projector reads their states."""
    cursor.execute(
        "INSERT INTO alert_deadlines (tenant, dedup_key, next_due_at) "
        "SELECT tenant, dedup_key, ? FROM alerts WHERE status IN ('triggered', 'acknowledged') "
        "ON CONFLICT (tenant, dedup_key) DO NOTHING",
        (IMMEDIATELY,),
    )
