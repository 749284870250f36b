"""The read-model database: SQLite next to the embedded store, or a schema in PostgreSQL.

Read models are derived data: they can be dropped and rebuilt from the event log at any time
(``helios projections rebuild``), so they live apart from the log — a file of their own, or
the ``helios_read`` schema of the store's database — and a rebuild never touches history.

SQL is written once, with ``?`` placeholders and the upsert syntax both engines share.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from helios.adapters.sqlite_wal import connect_wal
from helios.adapters.store.factory import postgres_settings, sqlite_path
from helios.apps.views.schema import ADDED_COLUMNS, SCHEMA
from helios.ports.event_store import StoreUnavailable

Row = tuple[Any, ...]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Row]: ...
    @property
    def rowcount(self) -> int: ...


class ReadModels:
    """One connection to the read-model database (one per follower: they never share)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._scheme = urlsplit(url).scheme
        self._lock = threading.Lock()
        self._conn: Any = None
        if self._scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"unsupported read-model URL scheme {self._scheme!r}")
        with self.transaction() as cursor:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            for table, column, definition in ADDED_COLUMNS:
                self._add_column(cursor, table, column, definition)

    @property
    def is_postgres(self) -> bool:
        return self._scheme != "sqlite"

    def _add_column(self, cursor: Cursor, table: str, column: str, definition: str) -> None:
        # Looked up first: an ALTER TABLE, even one that changes nothing, takes PostgreSQL's
        # strongest table lock, and every process opens the read models.
        if self.is_postgres:
            cursor.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? AND column_name = ?",
                (table, column),
            )
            if not cursor.fetchall():
                cursor.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}"
                )
            return
        cursor.execute(f"PRAGMA table_info({table})")
        if column not in {row[1] for row in cursor.fetchall()}:
            cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor whose statements commit together when the block ends without error.

        Raises:
            StoreUnavailable: the database cannot be reached (nothing was committed).
        """
        with self._lock:
            conn = self._connection()
            try:
                if self.is_postgres:
                    with conn.transaction():
                        yield _PgCursor(conn.cursor())
                else:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn.cursor()
                    except BaseException:
                        conn.rollback()
                        raise
                    conn.commit()
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"read models: {error}") from error
            except Exception as error:
                if self.is_postgres and _is_pg_connection_error(error):
                    self._drop()
                    raise StoreUnavailable(f"read models: {error}") from error
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one read-only statement.

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        with self.transaction() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def position(self, follower: str) -> int:
        """The follower's committed position in the event log (0 if it never ran).

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        rows = self.query("SELECT position FROM follower_positions WHERE follower = ?", (follower,))
        return int(rows[0][0]) if rows else 0

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self) -> Any:
        if self._conn is not None:
            return self._conn
        conn: Any  # a psycopg or a sqlite3 connection: both take execute()
        if self.is_postgres:
            import psycopg

            settings = postgres_settings(self.url)
            try:
                conn = psycopg.connect(
                    host=settings.host,
                    port=settings.port,
                    dbname=settings.dbname,
                    user=settings.user,
                    password=settings.password,
                    connect_timeout=settings.connect_timeout,
                    autocommit=True,
                )
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.schema}"')
                conn.execute(f'SET search_path TO "{settings.schema}"')
            except psycopg.Error as error:
                raise StoreUnavailable(f"read models: {error}") from error
        else:
            path = Path(sqlite_path(self.url))
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode with explicit BEGIN: Python's implicit transactions would not
            # take the write lock up front, and two followers could deadlock on upgrade.
            conn = connect_wal(path, busy_timeout_s=30, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class _PgCursor:
    """psycopg's cursor taking ``?`` placeholders.

    PostgreSQL text cannot hold NUL, which events can (they keep what sources sent): a NUL in
    a text parameter is written, and looked up, as U+FFFD. Refusing it would stop a projection
    at that event for good — and every process following the log with it.
    """

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), _without_nul(params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(
            sql.replace("?", "%s"), [_without_nul(row) for row in params]
        )

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


def _without_nul(params: Sequence[Any]) -> Sequence[Any]:
    if not any(isinstance(value, str) and "\x00" in value for value in params):
        return params
    return [
        value.replace("\x00", "\ufffd") if isinstance(value, str) else value for value in params
    ]


def _is_pg_connection_error(error: Exception) -> bool:
    import psycopg

    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def open_read_models(url: str) -> ReadModels:
    """Open (creating tables when missing) the read-model database at ``url``.

    Raises:
        ValueError: unsupported URL.
        StoreUnavailable: the database cannot be reached.
    """
    return ReadModels(url)
