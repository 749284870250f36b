"""The mailer contract, run against every adapter: in-memory, and SMTP into a real aiosmtpd
server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest

from helios.adapters.memory.mailer import InMemoryMailer
from helios.adapters.smtp import SmtpMailer
from helios.ports.mailer import MailerUnavailable, MailMessage, MailRejected

MESSAGE = MailMessage(
    message_id="ntf-123@helios",
    sender="helios@example.test",
    recipients=("oncall@example.test",),
    subject="[P1] checkout: 5xx rate above 2 req/s (triggered)",
    text="5xx rate above 2 req/s\n\nWhy this priority:\n  severity critical +70\n",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Collector:
    """aiosmtpd handler keeping what it receives; refuses recipients at ``refused.test``."""

    def __init__(self) -> None:
        self.received: list[Message] = []

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        options: Any,
    ) -> str:
        if address.endswith("@refused.test"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted"


class _Memory:
    def __init__(self) -> None:
        self.mailer = InMemoryMailer()

    def delivered(self) -> list[tuple[str, str, str]]:
        return [(m.subject, m.message_id, m.text) for m in self.mailer.sent]

    def refusing(self) -> MailMessage:
        self.mailer.fail_next(permanent=True)
        return MESSAGE

    def unreachable(self) -> InMemoryMailer:
        broken = InMemoryMailer()
        broken.fail_next()
        return broken


class _Smtp:
    def __init__(self, collector: _Collector, port: int) -> None:
        self.collector = collector
        self.mailer = SmtpMailer(host="127.0.0.1", port=port, timeout_s=5)

    def delivered(self) -> list[tuple[str, str, str]]:
        return [
            (m["Subject"], m["Message-ID"].strip("<>"), m.get_payload(decode=True).decode())
            for m in self.collector.received
        ]

    def refusing(self) -> MailMessage:
        return MailMessage(
            message_id="ntf-9@helios",
            sender=MESSAGE.sender,
            recipients=("x@refused.test",),
            subject="s",
            text="t",
        )

    def unreachable(self) -> SmtpMailer:
        return SmtpMailer(host="127.0.0.1", port=_free_port(), timeout_s=2)


@pytest.fixture(params=["memory", "smtp"])
def adapter(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield _Memory()
        return
    from aiosmtpd.controller import Controller

    collector = _Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield _Smtp(collector, port)
    finally:
        controller.stop()


def test_a_sent_message_arrives_with_its_subject_body_and_stable_message_id(adapter: Any) -> None:
    """What the notifier renders is what the mail system receives."""
    asyncio.run(adapter.mailer.send(MESSAGE))
    [(subject, message_id, text)] = adapter.delivered()
    assert subject == MESSAGE.subject
    assert message_id == MESSAGE.message_id
    assert text.replace("\r\n", "\n") == MESSAGE.text


def test_a_refused_recipient_is_a_permanent_rejection(adapter: Any) -> None:
    """A 5xx is never retried: the outbox marks the row failed with the reason."""
    with pytest.raises(MailRejected):
        asyncio.run(adapter.mailer.send(adapter.refusing()))
    assert adapter.delivered() == []


def test_an_unreachable_mail_system_is_a_transient_failure(adapter: Any) -> None:
    """Nothing listening: retry later."""
    with pytest.raises(MailerUnavailable):
        asyncio.run(adapter.unreachable().send(MESSAGE))
