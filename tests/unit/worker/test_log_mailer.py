"""Without an SMTP relay, ``helios up`` logs each email and keeps none: a worker that sends a
notification per alert does not grow with every email ever sent."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest
import structlog

from helios.apps.composition import open_mailer
from helios.apps.settings import Settings
from helios.ports.mailer import MailMessage, MailRejected


def _message(number: int) -> MailMessage:
    return MailMessage(
        message_id=f"ntf-{number}@helios",
        sender="helios@example.test",
        recipients=("oncall@example.test",),
        subject=f"[P2] svc-{number}: disk full (triggered)",
        text=f"disk full on host-{number}\n" + "why this priority: severity critical\n" * 100,
    )


def _without_relay() -> Settings:
    return Settings.from_env({"HELIOS_DATA_DIR": "/nonexistent"})


def test_the_default_mailer_logs_each_email() -> None:
    mailer = open_mailer(_without_relay())
    with structlog.testing.capture_logs() as logs:
        asyncio.run(mailer.send(_message(1)))
    assert [(e["event"], e["to"], e["subject"]) for e in logs] == [
        ("email", ["oncall@example.test"], "[P2] svc-1: disk full (triggered)")
    ]


def test_the_default_mailer_keeps_no_email_it_sent() -> None:
    mailer = open_mailer(_without_relay())

    async def send_many() -> None:
        for number in range(2_000):
            await mailer.send(_message(number))

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(send_many())
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 2,000 emails of about 3.7 KB each would be 7 MB if kept.
    assert held < 1_000_000


def test_the_default_mailer_refuses_an_email_without_recipients() -> None:
    mailer = open_mailer(_without_relay())
    message = MailMessage(
        message_id="ntf-x@helios",
        sender="helios@example.test",
        recipients=(),
        subject="s",
        text="t",
    )
    with pytest.raises(MailRejected):
        asyncio.run(mailer.send(message))
