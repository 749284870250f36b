"""One SQLite connection owned by one worker thread, for the embedded adapters' files.

The embedded queue and the embedded idempotency store each keep a file that several tasks of
one process, and several processes, use at once. Each runs every call on a single worker
thread that owns its connection: the event loop never waits on disk, the calls of one process
run in the order they were made, and a ``sqlite3.Connection`` is only ever used by the thread
that opened it. Other processes are excluded by ``write_transaction`` (``BEGIN IMMEDIATE``)
and the busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import attrs

from helios.adapters.sqlite_wal import connect_wal

_LOCK_POLL_FIRST_S = 0.0002
_LOCK_POLL_LONGEST_S = 0.002
"""How often a writer looks at a held write lock again: from 0.2 ms, doubling up to 2 ms."""

_T = TypeVar("_T")
_In = TypeVar("_In")
_Out = TypeVar("_Out")


class SqliteThread:
    """A SQLite file in WAL mode, opened lazily on its own worker thread.

    ``prepare`` runs on the new connection before any other use (pragmas, schema); a failure
    closes it, and the next call opens again. ``unavailable`` turns the file's path and a
    driver or disk error into the port's own error. ``on_close`` runs on the worker thread
    once the connection is closed (releasing what the owner holds beside the file).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float,
        thread_name: str,
        prepare: Callable[[sqlite3.Connection], None],
        unavailable: Callable[[str, sqlite3.Error | OSError], Exception],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.path = str(path)
        self._busy_timeout_s = busy_timeout_s
        self._prepare = prepare
        self._unavailable = unavailable
        self._on_close = on_close
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def open(self) -> None:
        """Open and prepare the file now rather than on the first call.

        Raises:
            Exception: what ``unavailable`` makes of the failure to open it.
        """
        await self.run(self.connection)

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` on the worker thread, after every call made before it.

        Raises:
            Exception: what ``unavailable`` makes of a ``sqlite3.Error`` or ``OSError`` (locked
                past the busy timeout, disk full, I/O error); other errors of ``fn`` as they are.
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except (sqlite3.Error, OSError) as error:
            raise self._unavailable(self.path, error) from error

    def connection(self) -> sqlite3.Connection:
        """The open connection (on the worker thread only: call it from a function given to
        ``run``).

        Raises:
            sqlite3.Error: the file cannot be opened or prepared.
        """
        if self._conn is None:
            conn = connect_wal(self.path, busy_timeout_s=self._busy_timeout_s)
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        """Close the file once the calls already made have run (closing twice is harmless)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._on_close is not None:
            self._on_close()


class Grouped(Generic[_In, _Out]):
    """Calls that arrive while a group of them runs on the file's thread go together in the
    next group: one hop to the thread (and one transaction, if ``run_group`` makes one) for
    many concurrent callers, instead of one each, which is what bounds a busy API.

    ``run_group`` gets the group's inputs in arrival order and returns one result per input;
    if it raises, every caller of the group gets the error.
    """

    def __init__(self, file: SqliteThread, run_group: Callable[[list[_In]], list[_Out]]) -> None:
        self._file = file
        self._run_group = run_group
        self._pending: list[tuple[_In, asyncio.Future[_Out]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self, item: _In) -> _Out:
        """``run_group``'s result for ``item``, run with the calls made meanwhile.

        Raises:
            Exception: what ``SqliteThread.run`` raises for the group.
        """
        answer: asyncio.Future[_Out] = asyncio.get_running_loop().create_future()
        self._pending.append((item, answer))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        return await answer

    async def idle(self) -> None:
        """Wait until no group is running (before closing the file)."""
        if self._runner is not None:
            await self._runner

    async def _drain(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                results = await self._file.run(self._run_group, [item for item, _ in group])
            except Exception as error:  # every caller of the group must hear of it
                for _, answer in group:
                    if not answer.done():
                        answer.set_exception(error)
            else:
                for (_, answer), result in zip(group, results, strict=True):
                    if not answer.done():
                        answer.set_result(result)


@attrs.define
class LockTime:
    """How long the transactions of one kind waited for the write lock and then held it."""

    transactions: int = 0
    wait_s: float = 0.0
    hold_s: float = 0.0


LOCK_TIMES: dict[str, LockTime] = {}
"""This process's write transactions by the ``kind`` they were given: what a lock-contention
benchmark reads (two clock readings per transaction, so it is always on)."""


@contextlib.contextmanager
def write_transaction(
    conn: sqlite3.Connection, *, kind: str = "write"
) -> Iterator[sqlite3.Connection]:
    """A transaction that takes the file's write lock up front (``BEGIN IMMEDIATE``).

    Taking it at the start means lock waits happen at ``BEGIN``, covered by the busy timeout,
    and two processes cannot both read a row the other is about to change. The wait and the
    hold (``BEGIN`` to the end of ``COMMIT``) are added to ``LOCK_TIMES[kind]``.
    """
    asked = time.perf_counter()
    _begin_immediate(conn)
    taken = time.perf_counter()
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
    finally:
        times = LOCK_TIMES.setdefault(kind, LockTime())
        times.transactions += 1
        times.wait_s += taken - asked
        times.hold_s += time.perf_counter() - taken


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, looking again every fraction of a millisecond while another
    connection holds the write lock, until the connection's busy timeout.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms... between tries: a writer
    waiting on locks held a millisecond or two (the API and the worker on the queue's file)
    slept well past each release, which is most of an accepted request's time under load.

    Raises:
        sqlite3.OperationalError: the lock stayed held past the busy timeout.
    """
    timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    if timeout_ms <= 0:
        conn.execute("BEGIN IMMEDIATE")
        return
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        pause = _LOCK_POLL_FIRST_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                busy = error.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, _LOCK_POLL_LONGEST_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")


def truncate_wal(
    conn: sqlite3.Connection, *, within_s: float, mode: Literal["TRUNCATE", "RESTART"] = "TRUNCATE"
) -> bool:
    """A TRUNCATE checkpoint: every frame of the WAL copied into the main file and the WAL
    emptied, trying for the writers' lock as often as ``_begin_immediate`` does, for up to
    ``within_s``. True if it was done; False if writers or readers kept it from finishing
    (then it copied what it could, as a PASSIVE checkpoint does).

    SQLite's busy handler would wait 1, 2, 5, 10... ms between tries, and writers that look
    every fraction of a millisecond would take the lock first every time.

    With ``mode="RESTART"`` the WAL is not emptied but started over from its beginning: the
    next commits overwrite its blocks in place instead of growing the file again (a file's
    growth makes each ``fdatasync`` a commit of the file system's journal too, which waits
    for every other file's writes; ``journal_size_limit`` caps what is kept).

    Raises:
        sqlite3.Error: the checkpoint failed (disk full, I/O error).
    """
    timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + within_s
        pause = _LOCK_POLL_FIRST_S
        while True:
            busy = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
            if not busy:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, _LOCK_POLL_LONGEST_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
