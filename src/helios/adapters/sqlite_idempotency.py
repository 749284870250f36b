"""Idempotency keys and seen fingerprints in a SQLite file, for the embedded default.

``helios up`` keeps them in the embedded queue's own file (``queue.db``), so what the API
accepted and what it remembers about it survive a restart together: the same
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
  lock up front (``BEGIN IMMEDIATE``), so several processes may share the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from helios.adapters.sqlite_wal import connect_wal
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

_T = TypeVar("_T")

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
        self._path = str(path)
        self._retention_ms = retention_ms
        self._lease_ms = lease_ms
        self._busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idempotency")
        self._conn: sqlite3.Connection | None = None
        self._next_sweep_ms = 0
        self._closed = False

    async def __aenter__(self) -> Self:
        await self._run(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the file once the calls already made have run (closing twice is harmless)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)

    # -- the port -------------------------------------------------------------------------

    async def begin(self, *, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        """Claim a key or report its fate; see ``IdempotencyStore.begin``.

        Raises:
            IdempotencyUnavailable: the file cannot be read or written (locked, disk full).
        """
        return await self._run(self._begin, scope, key, fingerprint, now_ms)

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
        await self._run(
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
        await self._run(
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
        return await self._run(self._seen, scope, fingerprint, now_ms)

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
        # A fingerprint still within its window keeps it: repeats never extend the window.
        await self._run(
            self._write,
            now_ms,
            "INSERT INTO idempotency_seen (scope, fingerprint, expires_at_ms) VALUES (?, ?, ?)"
            " ON CONFLICT (scope, fingerprint) DO UPDATE SET expires_at_ms = excluded.expires_at_ms"
            " WHERE idempotency_seen.expires_at_ms <= ?",
            (scope, fingerprint, now_ms + window_ms, now_ms),
        )

    # -- on the worker thread ------------------------------------------------------------

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except (sqlite3.Error, OSError) as error:
            # Locked past the busy timeout, disk full, I/O error: the API's policy applies.
            raise IdempotencyUnavailable(
                f"idempotency store {self._path}: {error}", retry_after_s=5
            ) from error

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = connect_wal(self._path, busy_timeout_s=self._busy_timeout_s)
            conn.execute("PRAGMA synchronous=NORMAL")
            with _transaction(conn):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            self._conn = conn
        return self._conn

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _begin(self, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        conn = self._connection()
        with _transaction(conn):
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

    def _seen(self, scope: str, fingerprint: str, now_ms: int) -> bool:
        row = (
            self._connection()
            .execute(
                "SELECT 1 FROM idempotency_seen"
                " WHERE scope = ? AND fingerprint = ? AND expires_at_ms > ?",
                (scope, fingerprint, now_ms),
            )
            .fetchone()
        )
        return row is not None

    def _write(self, now_ms: int | None, sql: str, params: tuple[Any, ...]) -> None:
        conn = self._connection()
        with _transaction(conn):
            if now_ms is not None:
                self._maybe_sweep(conn, now_ms)
            conn.execute(sql, params)

    def _maybe_sweep(self, conn: sqlite3.Connection, now_ms: int) -> None:
        if now_ms < self._next_sweep_ms:
            return
        conn.execute("DELETE FROM idempotency_keys WHERE expires_at_ms <= ?", (now_ms,))
        conn.execute("DELETE FROM idempotency_seen WHERE expires_at_ms <= ?", (now_ms,))
        self._next_sweep_ms = now_ms + SWEEP_INTERVAL_MS


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full, busy) may leave the transaction open, or SQLite may
        # have rolled it back already: end it either way, or the next BEGIN would fail.
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
