"""Drill: the mail relay is down when an alert pages; once back, the runbook sends it, once."""

from __future__ import annotations

import mailbox
import sys
from pathlib import Path

from harness import Helios, PrivateServer, Runbook, free_port


def _delivered(maildir: Path) -> list[str]:
    box = mailbox.Maildir(maildir, create=False)
    return [str(message["Subject"]) for message in box]


def test_pages_sent_during_a_relay_outage_are_delivered_once_after_the_runbooks_retry(
    tmp_path: Path,
) -> None:
    runbook = Runbook("smtp-down")
    port = free_port()
    maildir = tmp_path / "maildir"
    relay = PrivateServer(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        port=port,
        log=tmp_path / "smtp.log",
    )  # fmt: skip
    helios = Helios.create(
        tmp_path,
        HELIOS_SMTP_HOST="127.0.0.1",
        HELIOS_SMTP_PORT=str(port),
        HELIOS_NOTIFY_TO="oncall@example.test",
    )
    try:
        issued = helios.provision()
        helios.start("api")
        helios.start("worker")
        helios.start("followers")  # the relay has never been up: every send fails
        assert helios.post_alerts(issued["routing_key"], ["PagedDuringOutage"]) == [202]
        helios.wait_until(
            lambda: helios.cli("notifications", "status")["pending"] >= 1,
            what="the page to wait in the outbox",
        )
        diagnosis = runbook.run("diagnose", helios.env)
        assert "the relay does not accept connections" in diagnosis.stdout

        relay.start()
        runbook.run("recover", helios.env)
        helios.wait_until(
            lambda: runbook.run("verify", helios.env, check=False).returncode == 0,
            what="the waiting page to be sent",
        )
        runbook.run("recover", helios.env)  # a second retry sends nothing again
        helios.wait_until(lambda: len(_delivered(maildir)) >= 1, what="the mail to arrive")
        helios.stop("followers")
        assert len(_delivered(maildir)) == 1
    finally:
        helios.stop_all()
        relay.kill()
