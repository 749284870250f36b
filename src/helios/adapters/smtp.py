"""The ``Mailer`` port over SMTP (the standard library's client, run in a worker thread).

One connection per message keeps the adapter stateless: notifications are a trickle, and a
relay that restarts between two of them costs nothing.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

import anyio.to_thread

from helios.ports.mailer import MailerUnavailable, MailMessage, MailRejected


class SmtpMailer:
    """``Mailer`` over an SMTP relay (optionally STARTTLS and login)."""

    def __init__(
        self,
        *,
        host: str,
        port: int = 25,
        timeout_s: float = 10.0,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._starttls = starttls
        self._username = username
        self._password = password

    async def send(self, message: MailMessage) -> None:
        """Deliver the message to the relay.

        Raises:
            MailerUnavailable: the relay cannot be reached or answered 4xx.
            MailRejected: the relay answered 5xx (recipient, sender or content refused).
        """
        await anyio.to_thread.run_sync(self._send, _email(message))

    def _send(self, email: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as client:
                if self._starttls:
                    client.starttls()
                if self._username:
                    client.login(self._username, self._password or "")
                refused = client.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise _classified(error.recipients) from error
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise MailerUnavailable(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
            raise MailRejected(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise MailerUnavailable(f"SMTP relay {self._host}:{self._port}: {error}") from error
        if refused:
            # Accepted for some recipients only: retrying would send twice to the others.
            raise MailRejected(f"refused recipients: {sorted(refused)}")


def _classified(recipients: dict[str, tuple[int, bytes]]) -> MailerUnavailable | MailRejected:
    codes = [code for code, _ in recipients.values()]
    detail = f"all recipients refused: {recipients!r}"
    if codes and all(400 <= code < 500 for code in codes):
        return MailerUnavailable(detail)
    return MailRejected(detail)


def _email(message: MailMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = message.sender
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = f"<{message.message_id}>"
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email
