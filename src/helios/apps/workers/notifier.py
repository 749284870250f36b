"""The notifier: decisions to notify become outbox rows; a dispatcher sends them by email.

Exactly-once where it can be: outbox rows are keyed by ``notification_id`` and written in the
same transaction as the notifier's log position, so re-reading the log never adds a second
row; a row marked ``sent`` is never sent again. The one window left — the mail relay accepted
the message and the process died before ``sent`` committed — resends once with the same
``Message-ID``, which lets the receiving mail system drop the repeat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import anyio.to_thread
import structlog

from helios.apps.views import outbox
from helios.apps.views.positions import move_position
from helios.apps.views.streams import STREAMS_KEPT, AlertStates, StreamDirectory
from helios.apps.workers.followers import backoff_delay, wait_or_stop
from helios.apps.workers.templates import render
from helios.domain import alert
from helios.ports.event_store import EventStore, LogEntry, StoreUnavailable
from helios.ports.mailer import Mailer, MailerUnavailable, MailMessage, MailRejected
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

FOLLOWER = "notifier"
MAX_ATTEMPTS = 8


class NotificationOutbox:
    """Follower that turns ``NotificationRequested`` decisions into outbox rows."""

    name = FOLLOWER

    @staticmethod
    def left_encoded(name: str) -> bool:
        """Only alert events are folded: the others are not decoded."""
        return not name.startswith("helios.alert.")

    def __init__(
        self,
        store: EventStore,
        db: ReadModels,
        *,
        public_url: str,
        recipients: str,
        kept: int = STREAMS_KEPT,
    ) -> None:
        """``kept``: how many stream names stay in memory (alert states: a fifth of it, as
        only the requests' alerts need theirs)."""
        self._store = store
        self._db = db
        self._directory = StreamDirectory(db, store, capacity=kept)
        self._states = AlertStates(store, capacity=max(1, kept // 5))
        self._public_url = public_url
        self._recipients = recipients

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Queue an email per notification decision in the page, with the new position.

        Raises:
            StoreUnavailable: a store cannot be reached.
            ConcurrencyConflict: another notifier moved the position.
        """
        emails: list[outbox.PendingEmail] = []
        now = _now_ms()
        # Every alert event of the page is folded, not only the requests: a request's alert
        # state is then at hand, rather than read back from the store once per request.
        self._directory.learn(page)
        for entry in page:
            if not entry.name.startswith("helios.alert."):
                continue
            owner = self._directory.name(entry.stream_id)
            if owner is None:
                continue
            folded = self._states.apply(entry, owner)
            if not isinstance(entry.event, alert.NotificationRequested):
                continue
            email = render(entry.event, folded, public_url=self._public_url)
            emails.append(
                outbox.PendingEmail(
                    notification_id=entry.event.notification_id,
                    tenant=owner.tenant,
                    dedup_key=owner.key,
                    position=entry.position,
                    reason=entry.event.reason,
                    priority=entry.event.priority.value if entry.event.priority else None,
                    recipients=self._recipients,
                    subject=email.subject,
                    body=email.body,
                    created_at=now,
                )
            )
        with self._db.transaction() as cursor:
            outbox.add_pending(cursor, emails)
            self._directory.save(cursor)
            move_position(cursor, FOLLOWER, after=after, to=page[-1].position)
        self._directory.saved()


class Dispatcher:
    """Sends pending outbox rows; retries transient failures with backoff, gives up after
    ``MAX_ATTEMPTS`` or on a permanent refusal (the row says why)."""

    def __init__(self, db: ReadModels, mailer: Mailer, *, sender: str) -> None:
        self._db = db
        self._mailer = mailer
        self._sender = sender

    async def run(self, stop: asyncio.Event, *, poll_s: float = 0.5) -> None:
        """Send until ``stop`` is set."""
        failures = 0
        while not stop.is_set():
            try:
                sent = await self.send_due()
                failures = 0
            except StoreUnavailable as error:
                failures += 1
                _log.warning("notifier.outbox_unavailable", error=str(error))
                await wait_or_stop(stop, backoff_delay(failures))
                continue
            if not sent:
                await wait_or_stop(stop, poll_s)

    async def send_due(self, *, limit: int = 50) -> int:
        """Try every row due now; returns how many were attempted. The outcomes are recorded
        together once the batch is tried (a crash before resends it, with the same
        ``Message-ID``s).

        Raises:
            StoreUnavailable: the outbox cannot be read or updated.
        """
        now = _now_ms()
        due = await anyio.to_thread.run_sync(lambda: outbox.due(self._db, now=now, limit=limit))
        attempts = [await self._attempt(email, now) for email in due]
        await anyio.to_thread.run_sync(outbox.mark_all, self._db, attempts)
        return len(due)

    async def _attempt(self, email: outbox.DueEmail, now: int) -> outbox.Attempt:
        """Send one email; its outcome, to be recorded."""
        notification_id, attempt = email.notification_id, email.attempts + 1
        message = MailMessage(
            message_id=f"{notification_id}@helios",
            sender=self._sender,
            recipients=tuple(r.strip() for r in email.recipients.split(",") if r.strip()),
            subject=email.subject,
            text=email.body,
        )
        try:
            await self._mailer.send(message)
        except MailerUnavailable as error:
            _log.warning(
                "notifier.send_failed",
                notification_id=notification_id,
                attempt=attempt,
                error=str(error),
            )
            return outbox.Attempt(
                notification_id=notification_id,
                status="failed" if attempt >= MAX_ATTEMPTS else "pending",
                attempts=attempt,
                next_attempt_at=now + int(1000 * min(300, 2**attempt)),
                error=str(error),
            )
        except MailRejected as error:
            _log.error("notifier.rejected", notification_id=notification_id, error=str(error))
            return outbox.Attempt(
                notification_id=notification_id,
                status="failed",
                attempts=attempt,
                next_attempt_at=now,
                error=str(error),
            )
        _log.info("notifier.sent", notification_id=notification_id, subject=email.subject)
        return outbox.Attempt(
            notification_id=notification_id,
            status="sent",
            attempts=attempt,
            next_attempt_at=now,
            sent_at=_now_ms(),
        )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
