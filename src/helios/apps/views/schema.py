"""The read models' tables: what the query API reads. Rebuildable from the log at any time.

Each table is described, with its row type and its SQL, in its own module: ``alerts``,
``alert_labels`` and ``alert_deadlines``, ``incidents`` (with ``incident_alerts`` and
``incident_timeline``), ``activity``, ``changes``, ``outbox`` (``notification_outbox``),
``insights`` (``insight_documents``, ``insight_reports``: written by the analytics worker),
``positions`` (``follower_positions``), ``streams`` (``stream_directory``) and
``integration_stats``. Times are
milliseconds since the epoch (UTC); JSON columns hold compact JSON text.

Opening the read models (``install``) creates what is missing and upgrades what an earlier
release made: columns added since (``ADDED_COLUMNS``) and migrations that fill a new table
from existing rows (``MIGRATIONS``, each applied once and recorded in ``schema_migrations``).
"""

from __future__ import annotations

from collections.abc import Callable

from helios.apps.views import (
    activity,
    alert_deadlines,
    alert_labels,
    alerts,
    changes,
    incidents,
    insights,
    integration_stats,
    outbox,
    positions,
    streams,
)
from helios.ports.read_models import Cursor, ReadModels

STATEMENTS: tuple[str, ...] = (
    *positions.DDL,
    *streams.DDL,
    *alerts.DDL,
    *alert_labels.DDL,
    *alert_deadlines.DDL,
    *incidents.DDL,
    *activity.DDL,
    *changes.DDL,
    *outbox.DDL,
    *integration_stats.DDL,
    *insights.DDL,
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)",
)

_SQLITE_FORMS = dict(zip(alert_labels.DDL, alert_labels.SQLITE_DDL, strict=True))
SQLITE_STATEMENTS: tuple[str, ...] = tuple(_SQLITE_FORMS.get(s, s) for s in STATEMENTS)
"""``STATEMENTS`` as a SQLite file takes them (``alert_labels`` without rowids)."""

ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = alerts.ADDED_COLUMNS
"""Columns added to a table after it was first released: ``(table, column, definition)``.

``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is, so opening the read models
adds these when missing. Rows projected before keep the defaults until the projector writes
them again (any new event of the alert) or ``helios projections rebuild`` runs.
"""

MIGRATIONS: tuple[tuple[str, Callable[[Cursor], None]], ...] = (
    ("alert_labels", alert_labels.fill_from_alerts),
    ("alert_deadlines", alert_deadlines.fill_from_alerts),
    ("stream_directory_alerts", streams.name_alert_streams),
    ("alerts_by_stream_dropped", alerts.drop_stream_index),
)
"""Steps that fill a table added after its source rows existed, or drop what is no longer
read: ``(name, step)``. A fresh database records them without work to do; a rebuild refills
the tables from the log."""

SQLITE_MIGRATIONS: tuple[tuple[str, Callable[[Cursor], None]], ...] = (
    ("alert_labels_without_rowid", alert_labels.drop_rowids),
)
"""Steps of SQLite files only (after ``MIGRATIONS``): tables remade in a more compact form."""

REBUILT_TABLES = (
    "alerts",
    "alert_labels",
    "alert_deadlines",
    *incidents.TABLES,
    "activity",
    "changes",
    "integration_stats",
)
"""Tables ``helios projections rebuild`` empties (the outbox is history: never resent)."""


def install(db: ReadModels) -> None:
    """Create the missing tables and indexes, add the missing columns, run the migrations
    not yet recorded: all in one transaction.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    statements = STATEMENTS if db.is_postgres else SQLITE_STATEMENTS
    migrations = MIGRATIONS if db.is_postgres else MIGRATIONS + SQLITE_MIGRATIONS
    with db.transaction() as cursor:
        for statement in statements:
            cursor.execute(statement)
        for table, column, definition in ADDED_COLUMNS:
            _add_column(db, cursor, table, column, definition)
        for name, step in migrations:
            _migrate(db, cursor, name, step)


def _add_column(db: ReadModels, cursor: Cursor, table: str, column: str, definition: str) -> None:
    # Looked up first: an ALTER TABLE, even one that changes nothing, takes PostgreSQL's
    # strongest table lock, and every process opens the read models.
    if db.is_postgres:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? AND column_name = ?",
            (table, column),
        )
        if not cursor.fetchall():
            cursor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")
        return
    cursor.execute(f"PRAGMA table_info({table})")
    if column not in {row[1] for row in cursor.fetchall()}:
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


def _migrate(db: ReadModels, cursor: Cursor, name: str, step: Callable[[Cursor], None]) -> None:
    cursor.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,))
    if cursor.fetchall():
        return
    if db.is_postgres:
        # Writers wait while the step reads and fills (SQLite's BEGIN IMMEDIATE already
        # holds the only write lock): no row changes under it. Taken once per database.
        cursor.execute("LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,))
        if cursor.fetchall():
            return
    step(cursor)
    cursor.execute(
        "INSERT INTO schema_migrations (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,)
    )
