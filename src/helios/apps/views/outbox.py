"""``notification_outbox``: written by the notifier, *not* rebuilt (it is history: a rebuild
never sends again). One row per ``notification_id`` with the rendered email and its delivery
status (``pending`` / ``sent`` / ``failed``), attempts, next_attempt_at, last_error, sent_at.
"""

from __future__ import annotations

from helios.ports.read_models import ReadModels

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


def count(db: ReadModels) -> int:
    """Notifications in the outbox, whatever their status, every tenant together.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    return int(db.query("SELECT COUNT(*) FROM notification_outbox")[0][0])
