"""A durable queue in a SQLite file, for the single-process default (``helios up``).

It keeps the SQS contract (visibility timeouts, receive counts, a dead-letter queue after
``max_receives``, long polling) so that the same workers run unchanged on either.

* Durability: an enqueue commits with ``synchronous=FULL`` in WAL mode before ``send`` returns,
  so an accepted message survives ``kill -9`` and power loss. Receive/delete commit with
  ``synchronous=NORMAL``: losing one of those to a power cut only causes a redelivery.
* Throughput: concurrent sends are committed together (one fsync per group).
* The write lock, which the API's sends wait for, is held as little as a consumer can: a
  receive that finds nothing takes none; one that does runs one query and one UPDATE (its
  receipts made before it takes the lock); the deletes of concurrent consumers share one
  transaction. No commit runs a checkpoint (SQLite's automatic one would write and sync the
  main file inside an accepted request's commit): receives run PASSIVE ones, which take no
  write lock, when idle and every ``checkpoint_interval_s``, and truncate the WAL once it
  passes ``wal_limit_bytes`` (16 MB; a sender does at four times that, for a file nobody
  receives from). The intake's WAL is restarted rather than truncated, so that the API's
  commits overwrite it in place instead of growing a file (``_INTAKE_WAL_MODE``).
* An intake file (``intake_path``, what ``helios up`` uses for its ingest queue): sends commit
  to a file of their own and receives move them in, so that the API's sends never wait for
  the consumer's lock on this file (``embedded_intake``).
* Content deduplication (``send_once``): the fingerprints of what was sent are remembered in
  the commit that enqueues it, beside the queue's own deduplication ids, so the API's check
  for a repeat and its record of a first cost no transaction of their own.
* Concurrency: every call runs on one worker thread that owns the connection (the event loop
  never waits on disk), so tasks of one process are serialised; other processes on the same
  file are excluded by ``BEGIN IMMEDIATE`` (a write lock) with a busy timeout.
* Long polling: ``send`` in this process wakes waiting receivers at once; other processes'
  messages are seen within ``poll_interval_s`` (a waiting receive looks at the file when its
  WAL changes, and at least every second).
* A crashed process: each instance records itself as the owner of the receipts it hands out
  and holds a lock file while it lives (``embedded_owners``). The first receive of a new
  instance makes the messages of instances that have ended visible again at once, rather than
  after their visibility timeout (a ``kill -9``'d worker's batch is not stuck for a minute);
  so does a receive of a running instance, every ``reclaim_interval_s``, for the instances
  that ended since (a consumer process beside it was killed); the receive count is kept, so a
  message that kills its consumer is still dead-lettered.
* Disk space: a send is refused (``QueueUnavailable``, hence 503) while the disk holding the
  file has less than ``min_free_bytes`` free, so that the worker keeps room to move what was
  accepted into the store; ``check_ready`` says the same, and commits a tiny write to prove
  the file takes one (a full disk, a read-only file or a stuck lock fail it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Self

from helios.adapters import embedded_intake as intake
from helios.adapters.embedded_owners import OwnerLocks
from helios.adapters.sqlite_thread import (
    Grouped,
    SqliteThread,
    truncate_wal,
    write_transaction,
)
from helios.adapters.sqlite_wal import connect_wal
from helios.ports.queue import (
    DEFAULT_MAX_RECEIVES,
    MessageAttributes,
    OutgoingMessage,
    QueueBacklog,
    QueueUnavailable,
    ReceivedMessage,
    RedriveAll,
    SeenAs,
)

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    tenant TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dead_at_ms INTEGER,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_ready
    ON queue_messages (queue, visible_at_ms, seq) WHERE dead_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS queue_messages_dead
    ON queue_messages (queue, dead_at_ms, seq) WHERE dead_at_ms IS NOT NULL;
"""
    + intake.SENDERS_SCHEMA
)

DEFAULT_MIN_FREE_BYTES = 32 * 1024 * 1024
DEFAULT_WAL_LIMIT_BYTES = 16 * 1024 * 1024
"""The WAL's bound: past it a receive's checkpoint blocks the writers and truncates it."""
_SENDER_WAL_LIMITS = 4
"""Past this many times the bound a sender truncates the WAL itself, in its committing call:
a file nobody receives from stays bounded too."""
_TRUNCATE_WITHIN_S = 0.5
"""How long a truncating checkpoint tries for the writers' lock before the next receive."""
_INTAKE_WAL_MODE: Literal["RESTART"] = "RESTART"
"""The intake's WAL past the bound is started over, not emptied. Every accepted request waits
for an ``fdatasync`` of that WAL; while the file grows, each one also commits ext4's journal,
which first writes out what every other file (the worker's queue, store and views) has
pending, and under load that took an answer hundreds of milliseconds. Once the WAL has
reached its bound and restarted, commits overwrite blocks the file already has."""
_TRIM_INTERVAL_MS = 200
"""How often a sender reads how far the queue's file has taken its intake in."""

_UNCHANGED_RECHECK_MS = 10_000
"""A WAL that looks unchanged since a complete checkpoint is checkpointed again after this
long all the same: a commit within the file system's clock tick that leaves the WAL's size as
it was leaves its modification time as it was too."""

_COLUMNS = "message_id, body, tenant, correlation_id, kind, receive_count"
_INSERT = (
    "INSERT INTO queue_messages (queue, message_id, body, tenant, correlation_id,"
    " kind, sent_at_ms, visible_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class EmbeddedQueue:
    """The ``Queue`` port on a SQLite file; several instances/processes may share the file."""

    def __init__(
        self,
        *,
        path: str | Path,
        name: str = "ingest",
        max_receives: int = DEFAULT_MAX_RECEIVES,
        default_visibility_timeout_s: int = 30,
        poll_interval_s: float = 0.1,
        look_again_s: float = 1.0,
        dedup_window_s: int = 300,
        busy_timeout_s: float = 10.0,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        reclaim_interval_s: float = 1.0,
        checkpoint_interval_s: float = 0.5,
        wal_limit_bytes: int = DEFAULT_WAL_LIMIT_BYTES,
        intake_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # With an intake file, sends go there and receives move them in (``embedded_intake``).
        self._intake_path = None if intake_path is None else str(intake_path)
        self._intake_conn: sqlite3.Connection | None = None
        self._intake_id = ""
        self._intake_page_bytes = 0
        self._busy_timeout_s = busy_timeout_s
        self._reclaim_interval_ms = int(reclaim_interval_s * 1000)
        self._next_reclaim_ms = 0
        self._checkpoint_interval_ms = int(checkpoint_interval_s * 1000)
        self._next_checkpoint_ms = 0
        self._checkpointed_wal: tuple[int, ...] | None = None
        self._wal_limit_bytes = wal_limit_bytes
        self._min_free_bytes = min_free_bytes
        self._name = name
        self._max_receives = max_receives
        self._default_visibility_ms = default_visibility_timeout_s * 1000
        self._poll_interval_s = poll_interval_s
        # A waiting receive looks at the file at least this often even when its WAL seems
        # unchanged: messages become visible when their visibility ends, without a write.
        self._look_again_s = look_again_s
        self._dedup_window_ms = dedup_window_s * 1000
        self._clock = clock
        self._owners = OwnerLocks(path)
        self._commits = _CommitCount(str(path))
        self._intake_commits = None if intake_path is None else _CommitCount(str(intake_path))
        self._file = SqliteThread(
            path,
            busy_timeout_s=busy_timeout_s,
            thread_name="embedded-queue",
            prepare=self._prepare,
            unavailable=_unavailable,
            on_close=self._closed,
        )
        self._owner: str | None = None
        self._take_back_pending = True
        self._ended: list[str] = []
        self._wakeup = asyncio.Event()
        self._next_dedup_purge_ms = 0
        self._trimmed_through = 0
        self._next_trim_ms = 0
        self._pending: list[
            tuple[list[OutgoingMessage], tuple[SeenAs, int] | None, asyncio.Future[bool]]
        ] = []
        self._committer: asyncio.Task[None] | None = None
        self._deletes = Grouped(self._file, self._delete_groups)

    async def __aenter__(self) -> Self:
        await self._file.open()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the file; pending calls finish first (the worker thread runs them in order)."""
        if self._committer is not None:
            await self._committer
        await self._deletes.idle()
        await self._file.close()

    # -- the port -------------------------------------------------------------------------

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        if messages:
            await self._commit_in_group(list(messages), None)

    async def send_once(self, message: OutgoingMessage, *, seen_as: SeenAs, now_ms: int) -> bool:
        """Enqueue ``message`` unless ``seen_as`` is remembered; see ``SendsOnce.send_once``.

        The fingerprint is kept with the queue's own deduplication ids, in the transaction
        that inserts the message: a repeat in the same group of sends is a repeat too (both
        commit together, or neither does).

        Raises:
            ValueError: ``seen_as.window_ms`` is not positive.
            QueueUnavailable: the commit failed; nothing was enqueued nor remembered.
        """
        if seen_as.window_ms < 1:
            raise ValueError(f"window_ms must be positive, got {seen_as.window_ms!r}")
        return await self._commit_in_group([message], (seen_as, now_ms))

    async def _commit_in_group(
        self, messages: list[OutgoingMessage], once: tuple[SeenAs, int] | None
    ) -> bool:
        # Group commit: sends that arrive while a commit is on disk share the next one, so
        # many concurrent API requests cost one thread hop and one fsync instead of one each.
        accepted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((messages, once, accepted))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_pending())
        enqueued = await accepted
        if enqueued:
            self._wakeup.set()
        return enqueued

    async def _commit_pending(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                results = await self._file.run(
                    self._send, [(messages, once) for messages, once, _ in group]
                )
            except Exception as error:  # every sender in the group must hear of the failure
                for _, _, accepted in group:
                    if not accepted.done():
                        accepted.set_exception(error)
            else:
                for (_, _, accepted), enqueued in zip(group, results, strict=True):
                    if not accepted.done():
                        accepted.set_result(enqueued)

    async def receive(
        self,
        *,
        max_messages: int,
        wait_seconds: float,
        visibility_timeout_s: int | None = None,
    ) -> Sequence[ReceivedMessage]:
        visibility_ms = (
            self._default_visibility_ms
            if visibility_timeout_s is None
            else visibility_timeout_s * 1000
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            # Cleared before looking, so a send that lands after the look still wakes us; the
            # WAL is read before it for the same reason.
            self._wakeup.clear()
            looked_at, wal = loop.time(), self._wal_signature()
            received = await self._file.run(self._receive, max_messages, visibility_ms)
            if received or deadline - loop.time() <= 0:
                return received
            await self._until_worth_a_look(wal, looked_at, deadline)

    async def _until_worth_a_look(
        self, wal: tuple[int, ...], looked_at: float, deadline: float
    ) -> None:
        """Wait until a send of this process (at once), a commit of another process to the file
        (its WAL or WAL index changes, seen within ``poll_interval_s``), ``look_again_s`` since
        the last look (for messages whose visibility ends and ended instances), or ``deadline``.

        Looking costs a trip to the file's thread and a query, which an idle consumer would
        otherwise pay ten times a second; a ``stat`` of the WAL and a ``PRAGMA data_version``
        (no row read) cost a few microseconds.
        """
        loop = asyncio.get_running_loop()
        while (remaining := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wakeup.wait(), timeout=min(self._poll_interval_s, remaining)
                )
                return
            if self._wal_signature() != wal or loop.time() - looked_at >= self._look_again_s:
                return

    async def delete(self, messages: Sequence[ReceivedMessage]) -> None:
        if messages:
            await self._deletes([(m.message_id, m.receipt) for m in messages])

    async def extend_visibility(self, messages: Sequence[ReceivedMessage], seconds: int) -> None:
        if messages:
            visible_at = self._now_ms() + seconds * 1000
            await self._file.run(
                self._write,
                "UPDATE queue_messages SET visible_at_ms = ? WHERE message_id = ? AND receipt = ?"
                " AND dead_at_ms IS NULL",
                [(visible_at, m.message_id, m.receipt) for m in messages],
            )

    async def check_ready(self) -> None:
        await self._file.run(self._probe_write)

    async def depth(self) -> int:
        return await self._file.run(self._depth)

    async def backlog(self) -> QueueBacklog:
        depth, oldest_ms, dead = await self._file.run(self._counts)
        oldest_age_s = None if oldest_ms is None else max(0, self._now_ms() - oldest_ms) / 1000
        return QueueBacklog(depth=int(depth), oldest_age_s=oldest_age_s, dead_letters=int(dead))

    async def dead_letters(self, *, limit: int) -> Sequence[ReceivedMessage]:
        rows = await self._file.run(
            self._read,
            f"SELECT {_COLUMNS} FROM queue_messages WHERE queue = ? AND dead_at_ms IS NOT NULL"
            " ORDER BY dead_at_ms, seq LIMIT ?",
            (self._name, limit),
        )
        return [_received(row, receipt="") for row in rows]

    async def redrive(self, message_ids: Collection[str] | RedriveAll) -> int:
        revive = (
            "UPDATE queue_messages SET dead_at_ms = NULL, receive_count = 0, receipt = NULL,"
            " owner = NULL, visible_at_ms = ? WHERE queue = ? AND dead_at_ms IS NOT NULL"
        )
        now = self._now_ms()
        if message_ids == "all":
            moved = await self._file.run(self._write, revive, [(now, self._name)])
        else:
            moved = await self._file.run(
                self._write,
                revive + " AND message_id = ?",
                [(now, self._name, message_id) for message_id in message_ids],
            )
        if moved:
            self._wakeup.set()
        return moved

    async def purge_dead_letters(self, message_ids: Collection[str]) -> int:
        if not message_ids:
            return 0
        purged: int = await self._file.run(
            self._write,
            "DELETE FROM queue_messages WHERE queue = ? AND dead_at_ms IS NOT NULL"
            " AND message_id = ?",
            [(self._name, message_id) for message_id in message_ids],
        )
        return purged

    # -- on the worker thread ------------------------------------------------------------

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if self._owner is None:
            self._owner = self._owners.hold()
        # No checkpoint inside a commit: SQLite's automatic one runs in the committing call,
        # writing and syncing the main file while an accepted request waits. Receives run
        # them instead (``_checkpoint``).
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        with write_transaction(conn):
            _create_schema(conn)
        if self._intake_path is not None:
            self._open_intake()

    def _open_intake(self) -> sqlite3.Connection:
        """The intake file's connection, opened (and its schema made) on first use."""
        if self._intake_conn is None:
            assert self._intake_path is not None
            conn = connect_wal(self._intake_path, busy_timeout_s=self._busy_timeout_s)
            try:
                conn.execute("PRAGMA wal_autocheckpoint = 0")  # see ``_prepare``
                # The intake's WAL is restarted, not emptied (``_INTAKE_WAL_MODE``): a commit
                # that starts it over cuts a longer file back to the bound, and no shorter.
                conn.execute(f"PRAGMA journal_size_limit = {self._wal_limit_bytes}")
                self._intake_id = intake.create_intake_schema(
                    conn, carry_from=self._file.path, now_ms=self._now_ms()
                )
            except BaseException:
                conn.close()
                raise
            self._intake_conn = conn
        return self._intake_conn

    def _sending_file(self) -> sqlite3.Connection:
        """Where sends commit: the intake file if there is one, else the queue's file."""
        queue_conn = self._file.connection()
        return queue_conn if self._intake_path is None else self._open_intake()

    def _closed(self) -> None:
        self._commits.close()
        if self._intake_commits is not None:
            self._intake_commits.close()
        if self._intake_conn is not None:
            self._intake_conn.close()
            self._intake_conn = None
        self._owners.release()

    def _depth(self) -> int:
        """Messages waiting, as ``_counts`` counts them, read from the indexes alone: the
        followers ask it every tenth of a second while a burst is decided, and ``_counts``
        reads every waiting message's row, its body's overflow pages included (the columns
        it needs come after the body): 18.9 ms against 0.9 here with 10,000 envelopes
        waiting (``bench/queue_depth.py``)."""
        (depth,), after = self._with_position(
            "SELECT count(*) FROM queue_messages WHERE queue = ? AND dead_at_ms IS NULL"
        )
        if self._intake_path is not None:
            depth += intake.arrived(self._open_intake(), self._name, after)
        return int(depth)

    def _counts(self) -> tuple[int, int | None, int]:
        """Messages waiting (the intake's not moved in yet included), the oldest one's send
        time, and dead letters.

        The queue's count and the intake's position come from one snapshot, so a move made
        meanwhile is counted once: before it, the intake rows past that position; after it,
        not yet seen in the queue's file and still in the intake (a sender trims only up to
        a position it has read).
        """
        (depth, oldest_ms, dead), after = self._with_position(
            "SELECT count(*) FILTER (WHERE dead_at_ms IS NULL),"
            " min(sent_at_ms) FILTER (WHERE dead_at_ms IS NULL),"
            " count(*) FILTER (WHERE dead_at_ms IS NOT NULL)"
            " FROM queue_messages WHERE queue = ?"
        )
        if self._intake_path is not None:
            arrived, arrived_at_ms = intake.backlog(self._open_intake(), self._name, after)
            depth += arrived
            if arrived_at_ms is not None:
                oldest_ms = arrived_at_ms if oldest_ms is None else min(oldest_ms, arrived_at_ms)
        return int(depth), oldest_ms, int(dead)

    def _with_position(self, query: str) -> tuple[tuple[Any, ...], int]:
        """The row ``query`` (its one parameter: this queue's name) reads from the queue's
        file, and the intake position the file records, from one snapshot of it."""
        conn = self._file.connection()
        conn.execute("BEGIN")  # a read transaction: one snapshot of the queue's file
        try:
            row = conn.execute(query, (self._name,)).fetchone()
            after = intake.consumed(conn, self._intake_id, self._name)
        finally:
            conn.execute("COMMIT")
        return tuple(row), after

    def _check_room(self) -> None:
        if not self._min_free_bytes:
            return
        free = shutil.disk_usage(Path(self._file.path).parent).free
        if free < self._min_free_bytes:
            raise OSError(
                errno.ENOSPC,
                f"{free} bytes free on its disk, below the queue's reserve of"
                f" {self._min_free_bytes}",
            )

    def _probe_write(self) -> None:
        self._check_room()
        with _durable_transaction(self._sending_file()) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO queue_readiness (queue, checked_at_ms) VALUES (?, ?)",
                (self._name, self._now_ms()),
            )

    def _send(
        self, sends: list[tuple[list[OutgoingMessage], tuple[SeenAs, int] | None]]
    ) -> list[bool]:
        self._check_room()
        now = self._now_ms()
        enqueued: list[bool] = []
        # What the queue's file has taken in from the intake, read before the intake's lock.
        trim_through = self._trim_point(now)
        conn = self._sending_file()
        with _durable_transaction(conn, kind="send"):
            if now >= self._next_dedup_purge_ms:
                conn.execute("DELETE FROM queue_dedup WHERE expires_at_ms <= ?", (now,))
                self._next_dedup_purge_ms = now + 10_000
            if trim_through:
                intake.trim(conn, self._name, trim_through)
            rows = []
            for messages, once in sends:
                if once is not None and self._seen_before(conn, *once):
                    enqueued.append(False)
                    continue
                enqueued.append(True)
                rows += [self._row(conn, message, now) for message in messages]
            conn.executemany(
                _INSERT if self._intake_path is None else intake.INSERT_INTAKE,
                [row for row in rows if row is not None],
            )
        sent_to = self._file.path if self._intake_path is None else self._intake_path
        if _wal_size(sent_to) > _SENDER_WAL_LIMITS * self._wal_limit_bytes:
            # Nobody receives (or checkpoints) from this file: the sender bounds the WAL.
            with contextlib.suppress(sqlite3.Error):
                truncate_wal(conn, within_s=_TRUNCATE_WITHIN_S)
        return enqueued

    def _row(
        self, conn: sqlite3.Connection, message: OutgoingMessage, now: int
    ) -> tuple[Any, ...] | None:
        """The row ``message`` is inserted as, or None: a repeat of its deduplication id."""
        dedup_id = message.deduplication_id
        if (
            dedup_id is not None
            and self._dedup_window_ms
            and self._seen_recently(conn, dedup_id, now)
        ):
            return None
        attributes = message.attributes
        if self._intake_path is not None:  # the intake's row: its id is given when moved in
            return (
                self._name,
                message.body,
                attributes.tenant,
                attributes.correlation_id,
                attributes.kind,
                now,
            )
        return (
            self._name,
            str(uuid.uuid4()),
            message.body,
            attributes.tenant,
            attributes.correlation_id,
            attributes.kind,
            now,
            now,
        )

    def _trim_point(self, now: int) -> int:
        """The intake position up to which the queue's file has taken messages in, when it
        has moved past what was trimmed last (0: nothing to trim, or no intake file). Looked
        at every ``_TRIM_INTERVAL_MS``: one trim deletes what many receives moved in."""
        if self._intake_path is None or now < self._next_trim_ms:
            return 0
        self._next_trim_ms = now + _TRIM_INTERVAL_MS
        self._open_intake()
        through = intake.consumed(self._file.connection(), self._intake_id, self._name)
        if through <= self._trimmed_through:
            return 0
        self._trimmed_through = through
        return through

    def _seen_before(self, conn: sqlite3.Connection, seen_as: SeenAs, now_ms: int) -> bool:
        """Whether ``seen_as`` is remembered at ``now_ms``; if not, remember it from now."""
        # The length of the scope first: no scope and fingerprint make another pair's id.
        dedup_id = f"seen/{len(seen_as.scope)}/{seen_as.scope}/{seen_as.fingerprint}"
        row = conn.execute(
            "SELECT expires_at_ms FROM queue_dedup WHERE queue = ? AND dedup_id = ?",
            (self._name, dedup_id),
        ).fetchone()
        if row is not None and row[0] > now_ms:
            return True
        conn.execute(
            "INSERT OR REPLACE INTO queue_dedup (queue, dedup_id, expires_at_ms) VALUES (?, ?, ?)",
            (self._name, dedup_id, now_ms + seen_as.window_ms),
        )
        return False

    def _seen_recently(self, conn: sqlite3.Connection, dedup_id: str, now: int) -> bool:
        row = conn.execute(
            "SELECT expires_at_ms FROM queue_dedup WHERE queue = ? AND dedup_id = ?",
            (self._name, dedup_id),
        ).fetchone()
        if row is not None and row[0] > now:
            return True
        conn.execute(
            "INSERT OR REPLACE INTO queue_dedup (queue, dedup_id, expires_at_ms) VALUES (?, ?, ?)",
            (self._name, dedup_id, now + self._dedup_window_ms),
        )
        return False

    def _receive(self, max_messages: int, visibility_ms: int) -> list[ReceivedMessage]:
        conn = self._file.connection()
        now = self._now_ms()
        if not self._take_back_pending and now >= self._next_reclaim_ms:
            # The look at which instances ended (a directory listing) happens before any lock;
            # they are remembered until a commit has made their messages visible.
            self._ended += self._owners.ended()
            self._next_reclaim_ms = now + self._reclaim_interval_ms
        reclaim = self._take_back_pending or bool(self._ended)
        arrived = self._arrivals(conn)
        if not arrived and not reclaim and not self._any_ready(conn, now):
            # Nothing to hand out and nobody's messages to take back: no write lock taken
            # (the API's sends would wait on it), and an idle moment is when a checkpoint
            # costs nobody anything.
            self._checkpoint(conn, now, idle=True)
            return []
        # The receipts are made before the lock is taken too: one random prefix per receive
        # and a counter (unique all the same), not one random draw per message that may come.
        prefix = uuid.uuid4().hex
        receipts = [f"{prefix}{n:x}" for n in range(max_messages)]
        # Moving accepted messages in is durable: the sender trims its intake once it reads
        # the position, and a power cut must not take back what it trimmed.
        begin = _durable_transaction if arrived else write_transaction
        with begin(conn, kind="receive"):
            if arrived:
                intake.move_in(
                    conn, arrived, intake_id=self._intake_id, queue=self._name, now_ms=now
                )
            if self._take_back_pending:
                self._take_back(conn, now)
            elif reclaim:
                self._take_back_from(conn, self._ended, now)
            delivered = self._deliver(conn, now, visibility_ms, receipts)
        self._ended = []
        self._take_back_pending = False
        self._checkpoint(conn, now, idle=not delivered)
        return delivered

    def _arrivals(self, conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
        """The intake's messages not moved into the queue's file yet (read without a lock)."""
        if self._intake_path is None:
            return []
        intake_conn = self._open_intake()
        return intake.waiting(
            intake_conn, self._name, intake.consumed(conn, self._intake_id, self._name)
        )

    def _any_ready(self, conn: sqlite3.Connection, now: int) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM queue_messages WHERE queue = ? AND dead_at_ms IS NULL"
                " AND visible_at_ms <= ? LIMIT 1",
                (self._name, now),
            ).fetchone()
            is not None
        )

    def _deliver(
        self, conn: sqlite3.Connection, now: int, visibility_ms: int, receipts: list[str]
    ) -> list[ReceivedMessage]:
        """Up to ``len(receipts)`` visible messages, each given the next receipt, with one
        UPDATE for those delivered and one for those dead-lettered per query (in the write
        transaction of a receive)."""
        # At least 1 ms ahead: with a zero timeout the refill query of this same receive must
        # not pick the message again (SQS returns it once per call).
        visible_at = now + max(visibility_ms, 1)
        delivered: list[ReceivedMessage] = []
        while len(delivered) < len(receipts):
            wanted = len(receipts) - len(delivered)
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM queue_messages WHERE queue = ?"
                " AND dead_at_ms IS NULL AND visible_at_ms <= ?"
                " ORDER BY visible_at_ms, seq LIMIT ?",
                (self._name, now, wanted),
            ).fetchall()
            if not rows:
                break
            # Same rule as an SQS redrive policy: the receive after the last allowed one moves
            # the message to the dead-letter queue instead of delivering it.
            live = [row for row in rows if row[5] < self._max_receives]
            if len(live) < len(rows):
                conn.executemany(
                    "UPDATE queue_messages SET dead_at_ms = ?, receipt = NULL, owner = NULL"
                    " WHERE message_id = ?",
                    [(now, row[0]) for row in rows if row[5] >= self._max_receives],
                )
            given = receipts[len(delivered) : len(delivered) + len(live)]
            conn.executemany(
                "UPDATE queue_messages SET receive_count = receive_count + 1,"
                " visible_at_ms = ?, receipt = ?, owner = ? WHERE message_id = ?",
                [
                    (visible_at, receipt, self._owner, row[0])
                    for row, receipt in zip(live, given, strict=True)
                ],
            )
            delivered += [
                _received((*row[:5], row[5] + 1), receipt=receipt)
                for row, receipt in zip(live, given, strict=True)
            ]
            if len(rows) < wanted:
                break  # no more visible: no need to ask again
        return delivered

    def _checkpoint(self, conn: sqlite3.Connection, now: int, *, idle: bool) -> None:
        """Copy the WAL into the main file: when idle, every ``checkpoint_interval_s``, and
        whenever the WAL is over ``wal_limit_bytes``, then truncating it.

        A PASSIVE checkpoint takes no write lock (SQLite's checkpoint lock only): the API's
        sends go on meanwhile, and if it copies every frame before the next commit, that
        commit starts the WAL over from its beginning. Under a steady sender it rarely does,
        and the WAL grows: past the limit a TRUNCATE checkpoint, which blocks writers while it
        runs, copies what the PASSIVE one left and empties the file.
        """
        files = [(conn, self._file.path)]
        if self._intake_conn is not None and self._intake_path is not None:
            files.append((self._intake_conn, self._intake_path))
        wal = self._wal_signature()
        # The intake's file keeps its size once restarted (``_INTAKE_WAL_MODE``): how much of
        # it is in use is what its PASSIVE checkpoint says, below.
        overs = [
            path != self._intake_path and _wal_size(path) > self._wal_limit_bytes
            for _, path in files
        ]
        if (
            not any(overs)
            and wal == self._checkpointed_wal
            and now < self._next_checkpoint_ms + _UNCHANGED_RECHECK_MS
        ):
            # Nothing written since a checkpoint copied every frame: an idle consumer polling
            # the files would otherwise checkpoint them at every look, for nothing.
            return
        if not (idle or any(overs) or now >= self._next_checkpoint_ms):
            return
        self._next_checkpoint_ms = now + self._checkpoint_interval_ms
        complete = True
        # The intake's WAL too: a reader may checkpoint it. A PASSIVE one leaves the sender
        # alone; only past the limit does a TRUNCATE (the intake's: a RESTART) make it wait
        # while it copies the rest.
        for (file, path), over in zip(files, overs, strict=True):
            # The receive has committed: a checkpoint that fails (disk full) is tried later.
            try:
                busy, frames, copied = file.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                complete = complete and not busy and frames == copied
                # The intake's bound is on the frames in use (its file keeps its size).
                restart = (
                    path == self._intake_path
                    and frames * self._intake_page_size() > self._wal_limit_bytes
                )
                if over or restart:
                    mode = _INTAKE_WAL_MODE if restart else "TRUNCATE"
                    truncate_wal(file, within_s=_TRUNCATE_WITHIN_S, mode=mode)
            except sqlite3.Error:
                complete = False
        # The WALs as they were before these checkpoints, all of them in the main files now (a
        # commit since changes a size or modification time, and the next look copies).
        self._checkpointed_wal = wal if complete else None

    def _intake_page_size(self) -> int:
        if not self._intake_page_bytes:
            row = self._open_intake().execute("PRAGMA page_size").fetchone()
            self._intake_page_bytes = int(row[0])
        return self._intake_page_bytes

    def _wal_signature(self) -> tuple[int, ...]:
        """What changes when a transaction commits to the queue's file or, with an intake, to
        the intake's (where other processes' sends land): each WAL file's size and
        modification time, and each file's commit count (``_CommitCount``)."""
        found = (*_wal_stat(self._file.path), self._commits.read())
        if self._intake_path is None or self._intake_commits is None:
            return found
        return (*found, *_wal_stat(self._intake_path), self._intake_commits.read())

    def _take_back(self, conn: sqlite3.Connection, now: int) -> None:
        """Make the messages held by ended instances visible now (see ``embedded_owners``)."""
        holders = conn.execute(
            "SELECT DISTINCT owner FROM queue_messages"
            " WHERE owner IS NOT NULL AND receipt IS NOT NULL AND dead_at_ms IS NULL"
        ).fetchall()
        self._take_back_from(
            conn, [owner for (owner,) in holders if self._owners.is_gone(owner)], now
        )
        self._owners.sweep()

    def _take_back_from(self, conn: sqlite3.Connection, ended: list[str], now: int) -> None:
        """Make the messages held by the ``ended`` instances visible now."""
        for owner in ended:
            conn.execute(
                "UPDATE queue_messages SET receipt = NULL, owner = NULL,"
                " visible_at_ms = MIN(visible_at_ms, ?) WHERE owner = ? AND dead_at_ms IS NULL",
                (now, owner),
            )

    def _write(self, sql: str, params: list[tuple[Any, ...]]) -> int:
        conn = self._file.connection()
        with write_transaction(conn):
            changed = conn.executemany(sql, params).rowcount
        return changed

    def _delete_groups(self, groups: list[list[tuple[str, str]]]) -> list[None]:
        # The deletes of concurrent consumers (made while the previous group was on the
        # thread) in one transaction: one take of the write lock instead of one each.
        with write_transaction(self._file.connection(), kind="delete") as conn:
            conn.executemany(
                "DELETE FROM queue_messages WHERE message_id = ? AND receipt = ?"
                " AND dead_at_ms IS NULL",
                [one for group in groups for one in group],
            )
        return [None] * len(groups)

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._file.connection().execute(sql, params).fetchall()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _wal_size(path: str) -> int:
    return _wal_stat(path)[0]


class _CommitCount:
    """``PRAGMA data_version`` of one SQLite file, on a connection of its own that never reads
    a row: it changes once another connection's commit is published in the WAL index.

    The WAL file alone is not enough: a commit writes its frames there first and publishes
    them after its sync. A reader that looks in between sees nothing new, and the WAL does not
    change again when the commit becomes visible. (The index is not read directly: closing a
    descriptor of the ``-shm`` file would drop this process's SQLite locks on it.)
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._failures = 0

    def read(self) -> int:
        """The count; a new negative number each time it cannot be read (the caller looks)."""
        with self._lock:
            try:
                if self._conn is None:
                    # Never created here: the file is the queue's (or its sender's) to make.
                    uri = f"{Path(self._path).resolve().as_uri()}?mode=rw"
                    self._conn = sqlite3.connect(
                        uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
                    )
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                self._failures += 1
                return -self._failures

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _wal_stat(path: str) -> tuple[int, int]:
    """The WAL file's size and modification time (nanoseconds) of the SQLite file ``path``;
    zeros when it is absent."""
    try:
        found = os.stat(path + "-wal")
    except OSError:
        return (0, 0)
    return (found.st_size, found.st_mtime_ns)


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in (*_SCHEMA.split(";"), intake.POSITIONS_SCHEMA):
        if statement.strip():
            conn.execute(statement)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(queue_messages)")}
    if "owner" not in columns:  # a file written before receipts recorded their owner
        conn.execute("ALTER TABLE queue_messages ADD COLUMN owner TEXT")


@contextlib.contextmanager
def _durable_transaction(
    conn: sqlite3.Connection, *, kind: str = "write"
) -> Iterator[sqlite3.Connection]:
    # What was accepted must survive a power cut: this commit waits for the disk.
    conn.execute("PRAGMA synchronous=FULL")
    try:
        with write_transaction(conn, kind=kind):
            yield conn
    finally:
        conn.execute("PRAGMA synchronous=NORMAL")


def _unavailable(path: str, error: sqlite3.Error | OSError) -> QueueUnavailable:
    # Locked past the busy timeout, disk full, I/O error: the caller retries later.
    return QueueUnavailable(f"embedded queue {path}: {error}")


def _received(row: tuple[Any, ...], *, receipt: str) -> ReceivedMessage:
    message_id, body, tenant, correlation_id, kind, receive_count = row
    return ReceivedMessage(
        message_id=message_id,
        receipt=receipt,
        body=bytes(body),
        attributes=MessageAttributes(tenant=tenant, correlation_id=correlation_id, kind=kind),
        receive_count=receive_count,
    )
