"""Idempotency keys and seen fingerprints in a SQLite file, for the embedded default.

``helios up`` keeps them in the file the API enqueues to (``intake.db``, see
``embedded_intake``), so what the API accepted and what it remembers about it survive a
restart together, and no request waits for the worker's lock on ``queue.db``: the same
``Idempotency-Key`` and body after a restart replay the first answer, and a used signature
stays used.

* Durability: WAL with ``synchronous=NORMAL``: a commit survives ``kill -9``. A power cut may
  lose the last few (the queue's ``synchronous=FULL`` commits, which share the WAL, sync the
  ones made before them); at worst a retry is then enqueued again, and the worker deduplicates
  it. Nothing accepted is lost by forgetting a key.
* Decisions compare each row's expiry with the caller's ``now_ms``, never with a clock of
  this module, so tests can move time. Expired rows are swept at most once a minute of the
  callers' time, by a write, so the tables hold only keys and fingerprints still live.
* Concurrency: every call runs on one worker thread that owns the connection (the event loop
  never waits on disk); each operation is one transaction, and a write takes the file's write
  lock up front (``BEGIN IMMEDIATE``), so several processes may share the file. The content
  checks every accepted request makes (``recently_seen``, then ``remember_seen``) are grouped:
  those made while a group is on the thread go together in the next, the writes in one
  transaction, so a busy API pays one thread hop and one commit per group, not per request.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Self

from helios.adapters.sqlite_thread import Grouped, SqliteThread, write_transaction
from helios.ports.idempotency import (
    DEFAULT_LEASE_MS,
    DEFAULT_RETENTION_MS,
    Begin,
    IdempotencyUnavailable,
    InFlight,
    Mismatch,
    Replay,
    Started,
    StoredResponse,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    status INTEGER,
    body BLOB,
    headers TEXT,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at_ms);
CREATE TABLE IF NOT EXISTS idempotency_seen (
    scope TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, fingerprint)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_seen_expiry ON idempotency_seen (expires_at_ms);
"""

SWEEP_INTERVAL_MS = 60_000
"""Expired rows are deleted by the first write at least this long after the previous sweep."""


class SqliteIdempotencyStore:
    """Implements ``helios.ports.idempotency.IdempotencyStore`` on a SQLite file."""

    def __init__(
        self,
        *,
        path: str | Path,
        retention_ms: int = DEFAULT_RETENTION_MS,
        lease_ms: int = DEFAULT_LEASE_MS,
        busy_timeout_s: float = 5.0,
    ) -> None:
        if retention_ms < 1 or lease_ms < 1:
            raise ValueError("retention_ms and lease_ms must be positive")
        self._retention_ms = retention_ms
        self._lease_ms = lease_ms
        self._file = SqliteThread(
            path,
            busy_timeout_s=busy_timeout_s,
            thread_name="idempotency",
            prepare=_prepare,
            unavailable=_unavailable,
        )
        self._next_sweep_ms = 0
        self._seen_group = Grouped(self._file, self._seen_many)
        self._remember_group = Grouped(self._file, self._remember_many)

    async def __aenter__(self) -> Self:
        await self._file.open()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the file once the calls already made have run (closing twice is harmless)."""
        await self._seen_group.idle()
        await self._remember_group.idle()
        await self._file.close()

    # -- the port -------------------------------------------------------------------------

    async def begin(self, *, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        """Claim a key or report its fate; see ``IdempotencyStore.begin``.

        Raises:
            IdempotencyUnavailable: the file cannot be read or written (locked, disk full).
        """
        return await self._file.run(self._begin, scope, key, fingerprint, now_ms)

    async def complete(
        self, *, scope: str, key: str, fingerprint: str, response: StoredResponse, now_ms: int
    ) -> None:
        """Store the response for the retention period; see ``IdempotencyStore.complete``.

        Raises:
            IdempotencyUnavailable: the file cannot be written.
        """
        row = (
            scope,
            key,
            fingerprint,
            now_ms + self._retention_ms,
            response.status,
            response.body,
            json.dumps([list(pair) for pair in response.headers]),
        )
        await self._file.run(
            self._write,
            now_ms,
            "INSERT OR REPLACE INTO idempotency_keys"
            " (scope, key, fingerprint, expires_at_ms, status, body, headers)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    async def abandon(self, *, scope: str, key: str) -> None:
        """Release an in-flight claim; see ``IdempotencyStore.abandon``.

        Raises:
            IdempotencyUnavailable: the file cannot be written.
        """
        # A completed key is never removed: abandon after complete must not reopen it.
        await self._file.run(
            self._write,
            None,
            "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status IS NULL",
            (scope, key),
        )

    async def recently_seen(self, *, scope: str, fingerprint: str, now_ms: int) -> bool:
        """Whether a fingerprint is remembered; see ``IdempotencyStore.recently_seen``.

        Raises:
            IdempotencyUnavailable: the file cannot be read.
        """
        return await self._seen_group((scope, fingerprint, now_ms))

    async def remember_seen(
        self, *, scope: str, fingerprint: str, window_ms: int, now_ms: int
    ) -> None:
        """Remember a fingerprint; see ``IdempotencyStore.remember_seen``.

        Raises:
            ValueError: ``window_ms`` is not positive.
            IdempotencyUnavailable: the file cannot be written.
        """
        if window_ms < 1:
            raise ValueError(f"window_ms must be positive, got {window_ms!r}")
        await self._remember_group((scope, fingerprint, now_ms + window_ms, now_ms))

    # -- on the worker thread ------------------------------------------------------------

    def _begin(self, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        conn = self._file.connection()
        with write_transaction(conn):
            self._maybe_sweep(conn, now_ms)
            row = conn.execute(
                "SELECT fingerprint, status, body, headers FROM idempotency_keys"
                " WHERE scope = ? AND key = ? AND expires_at_ms > ?",
                (scope, key, now_ms),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint,"
                    " expires_at_ms) VALUES (?, ?, ?, ?)",
                    (scope, key, fingerprint, now_ms + self._lease_ms),
                )
                return Started()
        found, status, body, headers = row
        if found != fingerprint:
            return Mismatch()
        if status is None:
            return InFlight()
        pairs = tuple((str(name), str(value)) for name, value in json.loads(headers))
        return Replay(StoredResponse(status=int(status), body=bytes(body), headers=pairs))

    def _seen_many(self, asked: list[tuple[str, str, int]]) -> list[bool]:
        conn = self._file.connection()
        return [
            conn.execute(
                "SELECT 1 FROM idempotency_seen"
                " WHERE scope = ? AND fingerprint = ? AND expires_at_ms > ?",
                one,
            ).fetchone()
            is not None
            for one in asked
        ]

    def _remember_many(self, rows: list[tuple[str, str, int, int]]) -> list[None]:
        conn = self._file.connection()
        with write_transaction(conn):
            self._maybe_sweep(conn, max(row[3] for row in rows))
            # A fingerprint still within its window keeps it: repeats never extend the window.
            conn.executemany(
                "INSERT INTO idempotency_seen (scope, fingerprint, expires_at_ms)"
                " VALUES (?1, ?2, ?3) ON CONFLICT (scope, fingerprint)"
                " DO UPDATE SET expires_at_ms = excluded.expires_at_ms"
                " WHERE idempotency_seen.expires_at_ms <= ?4",
                rows,
            )
        return [None] * len(rows)

    def _write(self, now_ms: int | None, sql: str, params: tuple[Any, ...]) -> None:
        conn = self._file.connection()
        with write_transaction(conn):
            if now_ms is not None:
                self._maybe_sweep(conn, now_ms)
            conn.execute(sql, params)

    def _maybe_sweep(self, conn: sqlite3.Connection, now_ms: int) -> None:
        if now_ms < self._next_sweep_ms:
            return
        conn.execute("DELETE FROM idempotency_keys WHERE expires_at_ms <= ?", (now_ms,))
        conn.execute("DELETE FROM idempotency_seen WHERE expires_at_ms <= ?", (now_ms,))
        self._next_sweep_ms = now_ms + SWEEP_INTERVAL_MS


def _prepare(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA synchronous=NORMAL")
    # The file is the queue's, whose receives checkpoint it and bound its WAL (16 MB by
    # default): SQLite's automatic checkpoint at 1000 pages would run in this store's commits,
    # inside an accepted request. It stays only as a backstop, past what the queue allows.
    conn.execute(f"PRAGMA wal_autocheckpoint = {_BACKSTOP_CHECKPOINT_PAGES}")
    with write_transaction(conn):
        create_schema(conn)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create this store's tables in ``conn``'s file if missing (inside the caller's
    transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


_BACKSTOP_CHECKPOINT_PAGES = 32_768
"""128 MB of 4 kB pages: twice the most the embedded queue lets its WAL reach."""


def _unavailable(path: str, error: sqlite3.Error | OSError) -> IdempotencyUnavailable:
    # Locked past the busy timeout, disk full, I/O error: the API's policy applies.
    return IdempotencyUnavailable(f"idempotency store {path}: {error}", retry_after_s=5)
