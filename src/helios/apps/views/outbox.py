"""``notification_outbox``: written by the notifier, *not* rebuilt (it is history: a rebuild
never sends again). One row per ``notification_id`` with the rendered email and its delivery
status (``pending`` / ``sent`` / ``failed``), attempts, next_attempt_at, last_error, sent_at.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS notification_outbox (
    notification_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    position BIGINT NOT NULL,
    reason TEXT NOT NULL,
    priority TEXT,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
)""",
    "CREATE INDEX IF NOT EXISTS outbox_pending ON notification_outbox (status, next_attempt_at)",
)


@attrs.frozen(kw_only=True)
class PendingEmail:
    """A notification to send: written ``pending``, due at once."""

    notification_id: str
    tenant: str
    dedup_key: str
    position: int
    reason: str
    priority: str | None
    recipients: str
    """Comma-separated addresses."""
    subject: str
    body: str
    created_at: int


def add_pending(cursor: Cursor, emails: Sequence[PendingEmail]) -> None:
    """Write each email once (a notification id already there keeps its row and status)."""
    if not emails:
        return
    cursor.executemany(
        "INSERT INTO notification_outbox (notification_id, tenant, dedup_key, position, reason, "
        "priority, recipients, subject, body, status, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
        "ON CONFLICT (notification_id) DO NOTHING",
        [
            (
                e.notification_id, e.tenant, e.dedup_key, e.position, e.reason, e.priority,
                e.recipients, e.subject, e.body, e.created_at, e.created_at,
            )
            for e in emails
        ],
    )  # fmt: skip


@attrs.frozen(kw_only=True)
class DueEmail:
    notification_id: str
    recipients: str
    subject: str
    body: str
    attempts: int


def due(db: ReadModels, *, now: int, limit: int) -> list[DueEmail]:
    """Pending emails whose next attempt is due at ``now``, in log order.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT notification_id, recipients, subject, body, attempts FROM notification_outbox "
        "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY position LIMIT ?",
        (now, limit),
    )
    return [
        DueEmail(notification_id=n, recipients=r, subject=s, body=b, attempts=a)
        for n, r, s, b, a in rows
    ]


@attrs.frozen(kw_only=True)
class Attempt:
    """An attempt's outcome: ``sent``, ``failed`` for good, or ``pending`` again."""

    notification_id: str
    status: str
    attempts: int
    next_attempt_at: int
    error: str | None = None
    sent_at: int | None = None


def mark(
    db: ReadModels,
    notification_id: str,
    *,
    status: str,
    attempts: int,
    next_attempt_at: int,
    error: str | None,
    sent_at: int | None = None,
) -> None:
    """Record an attempt's outcome: ``sent``, ``failed`` for good, or ``pending`` again.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    attempt = Attempt(
        notification_id=notification_id,
        status=status,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        error=error,
        sent_at=sent_at,
    )
    mark_all(db, [attempt])


def mark_all(db: ReadModels, attempts: Sequence[Attempt]) -> None:
    """Record the outcomes of several attempts in one transaction (one write of the database
    per batch sent, not per email: the projector writes to the same database).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    if not attempts:
        return
    with db.transaction() as cursor:
        cursor.executemany(
            "UPDATE notification_outbox SET status = ?, attempts = ?, next_attempt_at = ?, "
            "last_error = ?, sent_at = ? WHERE notification_id = ?",
            [
                (a.status, a.attempts, a.next_attempt_at, a.error, a.sent_at, a.notification_id)
                for a in attempts
            ],
        )


def count(db: ReadModels) -> int:
    """Notifications in the outbox, whatever their status, every tenant together.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    return int(db.query("SELECT COUNT(*) FROM notification_outbox")[0][0])


@attrs.frozen(kw_only=True)
class OutboxSummary:
    """How many notifications are in each state, and how long the oldest unsent one waits."""

    by_status: dict[str, int]
    oldest_pending_created_at: int | None
    """``created_at`` (epoch ms) of the oldest pending row; None when nothing is pending."""


def summary(db: ReadModels) -> OutboxSummary:
    """Counts per status (``pending``, ``sent``, ``failed``) and the oldest pending row's time.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query("SELECT status, COUNT(*) FROM notification_outbox GROUP BY status", ())
    oldest = db.query(
        "SELECT MIN(created_at) FROM notification_outbox WHERE status = 'pending'", ()
    )
    by_status = {"pending": 0, "sent": 0, "failed": 0} | {str(s): int(n) for s, n in rows}
    first = oldest[0][0] if oldest else None
    return OutboxSummary(
        by_status=by_status, oldest_pending_created_at=None if first is None else int(first)
    )


def retry_now(db: ReadModels, *, now: int, include_failed: bool) -> int:
    """Make pending rows due at ``now`` and, with ``include_failed``, give rows that ran out of
    attempts a fresh set; returns how many rows will be tried. A ``sent`` row is never touched,
    so a retry cannot send anything twice.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    statuses = ("pending", "failed") if include_failed else ("pending",)
    marks = ", ".join("?" for _ in statuses)
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE notification_outbox SET status = 'pending', next_attempt_at = ?, attempts ="
            f" CASE WHEN status = 'failed' THEN 0 ELSE attempts END WHERE status IN ({marks})",
            (now, *statuses),
        )
        return max(0, int(cursor.rowcount))
