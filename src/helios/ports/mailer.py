"""The mailer port: hand one email to a mail system, or say why it could not.

The notifier keeps an outbox and retries; a mailer only has to tell a transient failure
(retry later) from a permanent one (this message will never be accepted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import attrs


def _addresses(value: Iterable[str]) -> tuple[str, ...]:
    # Typed: ``converter=tuple`` would leave the constructor's parameter untyped.
    return tuple(value)


@attrs.frozen(kw_only=True)
class MailMessage:
    """An email: plain text, and optionally the same content as HTML (sent as an alternative,
    so a client that shows no HTML shows ``text``). ``message_id`` is stable per notification,
    so a mail system that receives the same notification twice can tell it is a repeat."""

    message_id: str
    sender: str
    recipients: tuple[str, ...] = attrs.field(converter=_addresses)
    subject: str
    text: str
    html: str = ""


class MailerError(Exception):
    """Base of the errors every mailer adapter raises instead of its driver's errors."""


class MailerUnavailable(MailerError):
    """The mail system cannot take the message now (unreachable, busy, 4xx): retry later."""


class MailRejected(MailerError):
    """The mail system refused the message for good (5xx: bad recipient, too large)."""


class Mailer(Protocol):
    """Sends email."""

    async def send(self, message: MailMessage) -> None:
        """Hand the message to the mail system; when this returns it was accepted.

        Raises:
            MailerUnavailable: transient failure; nothing is known to be sent.
            MailRejected: the message will never be accepted.
        """
        ...
