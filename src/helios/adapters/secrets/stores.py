"""``SecretStore`` adapters: in memory (tests, ``memory://`` installations), a SQLite file, a
PostgreSQL table. Each keeps one row per reference and never overwrites one."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from helios.adapters.sqlite_wal import connect_wal
from helios.ports.secrets import SealedSecret, SecretConflict, SecretStore, SecretUnavailable

_COLUMNS = "ref, kek_id, wrapped_key, nonce, ciphertext"


class InMemorySecretStore:
    """Sealed secrets in a dictionary (gone with the process)."""

    def __init__(self) -> None:
        self._secrets: dict[str, SealedSecret] = {}
        self._lock = threading.Lock()

    def put(self, sealed: SealedSecret) -> None:
        """Store ``sealed`` (again: no change).

        Raises:
            SecretConflict: another secret has this reference.
        """
        with self._lock:
            existing = self._secrets.setdefault(sealed.ref, sealed)
        if existing != sealed:
            raise SecretConflict(f"a secret is stored under {sealed.ref!r} already")

    def get(self, ref: str) -> SealedSecret | None:
        return self._secrets.get(ref)

    def close(self) -> None:
        return None


class SqliteSecretStore:
    """Sealed secrets in a SQLite file (the embedded default: beside the event store)."""

    def __init__(self, path: str | Path) -> None:
        try:
            self._conn = connect_wal(path, busy_timeout_s=10, check_same_thread=False)
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS secrets (ref TEXT PRIMARY KEY, kek_id TEXT NOT NULL,"
                " wrapped_key BLOB NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL)"
            )
        except sqlite3.Error as error:
            raise SecretUnavailable(f"secret store {path}: {error}") from error
        self._lock = threading.Lock()

    def put(self, sealed: SealedSecret) -> None:
        """Store ``sealed`` (again: no change).

        Raises:
            SecretConflict: another secret has this reference.
            SecretUnavailable: the file cannot be written.
        """
        row = (sealed.ref, sealed.kek_id, sealed.wrapped_key, sealed.nonce, sealed.ciphertext)
        try:
            with self._lock:
                self._conn.execute(
                    f"INSERT INTO secrets ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (ref) DO NOTHING",
                    row,
                )
        except sqlite3.Error as error:
            raise SecretUnavailable(str(error)) from error
        if self.get(sealed.ref) != sealed:
            raise SecretConflict(f"a secret is stored under {sealed.ref!r} already")

    def get(self, ref: str) -> SealedSecret | None:
        """The secret under ``ref``, if any.

        Raises:
            SecretUnavailable: the file cannot be read.
        """
        try:
            with self._lock:
                row = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM secrets WHERE ref = ?",
                    (ref,),
                ).fetchone()
        except sqlite3.Error as error:
            raise SecretUnavailable(str(error)) from error
        return None if row is None else _sealed(row)

    def close(self) -> None:
        self._conn.close()


class PostgresSecretStore:
    """Sealed secrets in a PostgreSQL table (``secrets`` in the URL's ``schema``, created if
    missing), one short connection per call: secrets are read once per process and cached."""

    def __init__(self, url: str) -> None:
        import psycopg  # only for a postgresql:// store: the embedded default never needs it
        from psycopg import sql

        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self._schema = unquote(query.pop("schema", ["public"])[-1])
        self._dsn = urlunsplit(parts._replace(query=""))
        self._table = sql.Identifier(self._schema, "secrets")
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema))
                )
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (ref text PRIMARY KEY, kek_id text NOT NULL,"
                        " wrapped_key bytea NOT NULL, nonce bytea NOT NULL,"
                        " ciphertext bytea NOT NULL)"
                    ).format(self._table)
                )
        except psycopg.Error as error:
            raise SecretUnavailable(f"secret store: {error}") from error

    def put(self, sealed: SealedSecret) -> None:
        """Store ``sealed`` (again: no change).

        Raises:
            SecretConflict: another secret has this reference.
            SecretUnavailable: the server cannot be reached.
        """
        import psycopg  # only for a postgresql:// store: the embedded default never needs it
        from psycopg import sql

        row = (sealed.ref, sealed.kek_id, sealed.wrapped_key, sealed.nonce, sealed.ciphertext)
        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (" + _COLUMNS + ") VALUES (%s, %s, %s, %s, %s)"
                        " ON CONFLICT (ref) DO NOTHING"
                    ).format(self._table),
                    row,
                )
        except psycopg.Error as error:
            raise SecretUnavailable(str(error)) from error
        if self.get(sealed.ref) != sealed:
            raise SecretConflict(f"a secret is stored under {sealed.ref!r} already")

    def get(self, ref: str) -> SealedSecret | None:
        """The secret under ``ref``, if any.

        Raises:
            SecretUnavailable: the server cannot be reached.
        """
        import psycopg  # only for a postgresql:// store: the embedded default never needs it
        from psycopg import sql

        try:
            with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                row = conn.execute(
                    sql.SQL("SELECT " + _COLUMNS + " FROM {} WHERE ref = %s").format(self._table),
                    (ref,),
                ).fetchone()
        except psycopg.Error as error:
            raise SecretUnavailable(str(error)) from error
        return None if row is None else _sealed(row)

    def close(self) -> None:
        return None


def _sealed(row: tuple[object, ...]) -> SealedSecret:
    ref, kek_id, wrapped_key, nonce, ciphertext = row
    return SealedSecret(
        ref=str(ref),
        kek_id=str(kek_id),
        wrapped_key=bytes(wrapped_key),  # type: ignore[call-overload]
        nonce=bytes(nonce),  # type: ignore[call-overload]
        ciphertext=bytes(ciphertext),  # type: ignore[call-overload]
    )


def open_secret_store(url: str) -> SecretStore:
    """The secret store at ``url``: ``memory://``, ``sqlite:path`` or ``postgresql://…``
    (``?schema=`` names the schema of its table).

    Raises:
        ValueError: unsupported URL.
        SecretUnavailable: the store cannot be reached.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return InMemorySecretStore()
    if scheme == "sqlite":
        path = unquote(urlsplit(url).path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteSecretStore(path)
    if scheme in ("postgresql", "postgres"):
        return PostgresSecretStore(url)
    raise ValueError(f"unsupported secret store URL scheme {scheme!r}")
