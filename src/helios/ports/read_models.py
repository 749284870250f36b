"""The read-model database port: SQL tables derived from the log, which the views own.

Read models are derived data: they can be dropped and rebuilt from the event log at any time,
so they live apart from the log. The views (``helios.apps.views``) own the tables and write
every statement once, with ``?`` placeholders and the upsert syntax SQLite and PostgreSQL
share; an adapter owns the connection, the transactions and the translation of driver errors
to ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = tuple[Any, ...]
"""One result row, in the order of the statement's columns."""


class Cursor(Protocol):
    """Statements of one transaction (``?`` placeholders)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...

    def fetchall(self) -> list[Row]: ...

    @property
    def rowcount(self) -> int: ...


class ReadModels(Protocol):
    """One connection to the read-model database (one per follower: they never share)."""

    @property
    def is_postgres(self) -> bool:
        """PostgreSQL rather than SQLite (for the few statements that differ)."""
        ...

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor whose statements commit together when the block ends without error.

        Raises:
            StoreUnavailable: the database cannot be reached (nothing was committed).
        """
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one read-only statement.

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        ...

    def close(self) -> None: ...
