"""The read-model database: SQLite next to the embedded store, or a schema in PostgreSQL.

Read models are derived data: they can be dropped and rebuilt from the event log at any time
(``helios projections rebuild``), so they live apart from the log — a file of their own, or
the ``helios_read`` schema of the store's database — and a rebuild never touches history.

This adapter only connects and runs statements; the tables and their SQL are the views'
(``helios.apps.views``), written once with ``?`` placeholders and the upsert syntax both
engines share.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from helios.adapters.sqlite_checkpoints import backstop
from helios.adapters.sqlite_wal import connect_wal
from helios.adapters.store.factory import postgres_settings, sqlite_path
from helios.ports.event_store import StoreUnavailable
from helios.ports.read_models import Cursor, Row


class SqlReadModels:
    """One connection to the read-model database (one per follower: they never share).

    The connection is opened on first use and opened again after PostgreSQL dropped it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._scheme = urlsplit(url).scheme
        self._lock = threading.Lock()
        self._conn: Any = None
        if self._scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"unsupported read-model URL scheme {self._scheme!r}")

    @property
    def is_postgres(self) -> bool:
        return self._scheme != "sqlite"

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

        On SQLite the statement runs on its own, as a read (WAL: it sees the last commit and
        neither waits for a writer nor holds one up); only a write transaction takes the file's
        one write lock, so the API's and the followers' reads never queue behind the projector.

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        if self.is_postgres:
            with self.transaction() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        with self._lock:
            try:
                rows: list[Row] = self._connection().execute(sql, params).fetchall()
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"read models: {error}") from error
            return rows

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
            backstop(conn)  # checkpointed by the worker's ``WalCheckpointer``
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


def open_sql_read_models(url: str) -> SqlReadModels:
    """The read-model database at ``url`` (``sqlite:PATH`` or a PostgreSQL URL, whose
    ``schema`` parameter names the schema), connected on first use.

    Raises:
        ValueError: unsupported URL.
    """
    return SqlReadModels(url)
