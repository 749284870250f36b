"""The senders' own file in front of the embedded queue: what the API appends to, so that an
accepted request never waits for the lock of the file the worker writes.

On one SQLite file the API's durable sends and the worker's receives and deletes took turns at
one write lock, and the worker held it a good part of the time under load. With an intake
file, the two processes write different files:

* A send appends to the intake (``intake_messages``) and commits with ``synchronous=FULL``
  before it returns, its content fingerprints and deduplication ids in the same commit (the
  intake's own ``queue_dedup``). Only senders write the intake.
* A receive (the worker) reads the intake after the position it has consumed, and moves those
  rows into ``queue_messages`` of the queue's file together with the new position, in one
  durable transaction: a ``kill -9`` of either process leaves every accepted message either
  still to move or moved, once. Order is kept (the intake's ``seq`` is the order of commits).
* The sender trims what the consumed position covers, in its next commit; nothing is deleted
  from the intake before the queue's file has durably taken it.
* Each intake file has an identity, recorded with its position: a fresh intake file (the old
  one deleted) starts from zero instead of being skipped up to a stale position.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from helios.adapters import sqlite_idempotency
from helios.adapters.sqlite_thread import write_transaction

SENDERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_dedup (
    queue TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_dedup_expiry ON queue_dedup (expires_at_ms);
CREATE TABLE IF NOT EXISTS queue_readiness (
    queue TEXT PRIMARY KEY,
    checked_at_ms INTEGER NOT NULL
);
"""
"""What senders keep beside the messages they commit (deduplication ids, readiness checks):
in the queue's file, and in the intake file when there is one."""

INTAKE_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS intake_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    tenant TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS intake_messages_queue ON intake_messages (queue, seq);
"""
    + SENDERS_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS intake_identity (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    intake_id TEXT NOT NULL
);
"""
)

POSITIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_intake_positions (
    intake_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (intake_id, queue)
) WITHOUT ROWID
"""
"""In the queue's file: how far each intake file has been moved in, per queue."""

INSERT_INTAKE = (
    "INSERT INTO intake_messages (queue, body, tenant, correlation_id, kind, sent_at_ms)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)

MOVE_LIMIT = 500
"""Rows one receive moves in at most: a bounded transaction on the queue's file (one
fsync for up to this many, and the worker's own writers wait for no longer)."""


def create_intake_schema(
    conn: sqlite3.Connection, *, carry_from: str | None = None, now_ms: int = 0
) -> str:
    """Create the intake's tables if missing; return the file's identity (made once).

    When the identity is made (a new intake file) and ``carry_from`` names the queue's file,
    what senders remembered there before intake files existed comes along (``carry_over``).
    """
    with write_transaction(conn):
        for statement in INTAKE_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        made = conn.execute(
            "INSERT OR IGNORE INTO intake_identity (only, intake_id) VALUES (1, ?)",
            (uuid.uuid4().hex,),
        ).rowcount
        if made and carry_from is not None:
            carry_over(conn, carry_from, now_ms=now_ms)
    row = conn.execute("SELECT intake_id FROM intake_identity").fetchone()
    return str(row[0])


CARRIED = {
    "queue_dedup": "queue, dedup_id, expires_at_ms",
    "idempotency_keys": "scope, key, fingerprint, expires_at_ms, status, body, headers",
    "idempotency_seen": "scope, fingerprint, expires_at_ms",
}
"""What senders kept in the queue's file before they had an intake file: deduplication ids,
idempotency keys with their stored answers, and seen content fingerprints."""


def carry_over(conn: sqlite3.Connection, earlier_path: str, *, now_ms: int) -> int:
    """Copy the unexpired rows of ``CARRIED`` from the queue's file at ``earlier_path`` into
    this new intake file (inside the caller's transaction); returns how many were copied.

    A file written before intake files existed kept them beside the messages; without this,
    a retry made across the upgrade (same ``Idempotency-Key``, same content) would be accepted
    as new instead of answered as before. Tables the earlier file lacks are skipped.
    """
    sqlite_idempotency.create_schema(conn)
    earlier = sqlite3.connect(earlier_path)
    copied = 0
    try:
        present = {
            name for (name,) in earlier.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        for table, columns in CARRIED.items():
            if table not in present:
                continue
            # Table and column names are the constants above, never input.
            rows = earlier.execute(
                f"SELECT {columns} FROM {table} WHERE expires_at_ms > ?",
                (now_ms,),
            ).fetchall()
            marks = ", ".join("?" * len(columns.split(",")))
            conn.executemany(
                f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})",
                rows,
            )
            copied += len(rows)
    finally:
        earlier.close()
    return copied


def consumed(queue_conn: sqlite3.Connection, intake_id: str, queue: str) -> int:
    """The last intake ``seq`` the queue's file has taken in (0: none)."""
    row = queue_conn.execute(
        "SELECT position FROM queue_intake_positions WHERE intake_id = ? AND queue = ?",
        (intake_id, queue),
    ).fetchone()
    return 0 if row is None else int(row[0])


def waiting(intake_conn: sqlite3.Connection, queue: str, after: int) -> list[tuple[Any, ...]]:
    """Up to ``MOVE_LIMIT`` intake rows of ``queue`` after position ``after``, in order."""
    return intake_conn.execute(
        "SELECT seq, body, tenant, correlation_id, kind, sent_at_ms FROM intake_messages"
        " WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?",
        (queue, after, MOVE_LIMIT),
    ).fetchall()


def arrived(intake_conn: sqlite3.Connection, queue: str, after: int) -> int:
    """How many intake rows of ``queue`` wait after ``after`` (``backlog``'s count, read from
    the ``(queue, seq)`` index alone)."""
    (count,) = intake_conn.execute(
        "SELECT count(*) FROM intake_messages WHERE queue = ? AND seq > ?", (queue, after)
    ).fetchone()
    return int(count)


def backlog(intake_conn: sqlite3.Connection, queue: str, after: int) -> tuple[int, int | None]:
    """How many intake rows of ``queue`` wait after ``after``, and the oldest one's send time."""
    count, oldest = intake_conn.execute(
        "SELECT count(*), min(sent_at_ms) FROM intake_messages WHERE queue = ? AND seq > ?",
        (queue, after),
    ).fetchone()
    return int(count), None if oldest is None else int(oldest)


def move_in(
    queue_conn: sqlite3.Connection,
    rows: Sequence[tuple[Any, ...]],
    *,
    intake_id: str,
    queue: str,
    now_ms: int,
) -> int:
    """Insert the intake ``rows`` not taken in yet into ``queue_messages`` and advance the
    position past them; returns how many were inserted. Runs inside the caller's write
    transaction on the queue's file, which re-reads the position: another consumer of the
    same files may have moved some of them since they were read.
    """
    position = consumed(queue_conn, intake_id, queue)
    fresh = [row for row in rows if row[0] > position]
    if not fresh:
        return 0
    queue_conn.executemany(
        "INSERT INTO queue_messages (queue, message_id, body, tenant, correlation_id,"
        " kind, sent_at_ms, visible_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(queue, str(uuid.uuid4()), *row[1:], now_ms) for row in fresh],
    )
    queue_conn.execute(
        "INSERT OR REPLACE INTO queue_intake_positions (intake_id, queue, position)"
        " VALUES (?, ?, ?)",
        (intake_id, queue, fresh[-1][0]),
    )
    return len(fresh)


def trim(intake_conn: sqlite3.Connection, queue: str, through: int) -> None:
    """Delete the intake rows of ``queue`` up to ``through`` (the queue's file has them)."""
    intake_conn.execute(
        "DELETE FROM intake_messages WHERE queue = ? AND seq <= ?", (queue, through)
    )
