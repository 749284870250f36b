"""Mailers without a relay: one that keeps what it was given (tests), and one that only logs
each email (``helios up`` without SMTP)."""

from __future__ import annotations

import structlog

from helios.ports.mailer import MailerUnavailable, MailMessage, MailRejected

_log = structlog.get_logger(__name__)


class InMemoryMailer:
    """``Mailer`` that records messages; ``fail_next`` makes the next sends fail (tests)."""

    def __init__(self, *, log: bool = False) -> None:
        self.sent: list[MailMessage] = []
        self._failures: list[Exception] = []
        self._log = log

    def fail_next(self, count: int = 1, *, permanent: bool = False) -> None:
        """Make the next ``count`` sends fail, transiently or for good."""
        error: Exception = (
            MailRejected("rejected by the test") if permanent else MailerUnavailable("down")
        )
        self._failures.extend([error] * count)

    async def send(self, message: MailMessage) -> None:
        """Record the message.

        Raises:
            MailerUnavailable: a transient failure was requested with ``fail_next``.
            MailRejected: a permanent failure was requested with ``fail_next``.
        """
        if not message.recipients:
            raise MailRejected("no recipients")
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(message)
        if self._log:
            _log.info("email", to=list(message.recipients), subject=message.subject)


class LogMailer:
    """``Mailer`` of a deployment without an SMTP relay: each email is one log line, and none
    is kept (its text stays in the notification outbox). Keeping them, as ``InMemoryMailer``
    does, would grow a long-running worker by every email ever sent."""

    async def send(self, message: MailMessage) -> None:
        """Log the message.

        Raises:
            MailRejected: the message has no recipients.
        """
        if not message.recipients:
            raise MailRejected("no recipients")
        _log.info("email", to=list(message.recipients), subject=message.subject)
