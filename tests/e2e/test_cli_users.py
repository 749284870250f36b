"""``helios users invite|deactivate|reactivate|revoke`` and ``helios tokens`` with sessions, over
a SQLite store; the invitation goes through the real SMTP sink."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from helios.adapters.memory.mailer import InMemoryMailer
from helios.apps.application.access import AccessService, InvalidCredentials
from helios.apps.application.people import PeopleMail
from helios.apps.cli import main
from helios.apps.composition import open_store
from helios.apps.settings import Settings
from helios.domain.access import LinkPurpose
from services import SmtpSink

PASSWORD = "correct horse battery"


@pytest.fixture
def helios(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    smtp_sink: SmtpSink,
):
    """Run a ``helios`` command line in-process; returns (exit code, its JSON output)."""
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)
    monkeypatch.setenv("HELIOS_SMTP_HOST", smtp_sink.host)
    monkeypatch.setenv("HELIOS_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("HELIOS_PUBLIC_URL", "https://helios.cli.example")

    def run(*argv: str) -> tuple[int, Any]:
        code = main(list(argv))
        return code, json.loads(capsys.readouterr().out)

    return run


def service() -> AccessService:
    return AccessService(open_store(Settings.from_env()))


def accept(link: str) -> None:
    token = link.split("#token=", 1)[1]
    mail = PeopleMail(service=service(), mailer=InMemoryMailer(), sender="s@x", public_url="")
    asyncio.run(mail.redeem(token=token, purpose=LinkPurpose.INVITATION, password=PASSWORD))


def test_users_invite_emails_a_link_through_the_relay(helios, smtp_sink: SmtpSink) -> None:
    _, tenant = helios("tenants", "create", "acme")
    email = f"cli-{uuid.uuid4().hex[:10]}@cli.example"
    code, invited = helios(
        "users", "invite", "--tenant", tenant["tenant_id"], "--email", email, "--role", "viewer"
    )
    assert code == 0 and invited["emailed"] is True and invited["has_password"] is False
    assert "link" not in invited
    found = []
    for _ in range(50):
        found = smtp_sink.messages(to=email)
        if found:
            break
        time.sleep(0.1)
    [message] = found
    assert message["Subject"] == f"You are invited to Helios ({tenant['tenant_id']})"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = text.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert re.search(
        r"https://helios\.cli\.example/accept-invitation#token=hxi\.", payload.decode()
    )


def test_a_user_is_deactivated_reactivated_and_has_every_token_revoked(helios) -> None:
    _, tenant = helios("tenants", "create", "acme")
    tenant_id = tenant["tenant_id"]
    code, invited = helios(
        "users",
        "invite",
        "--tenant",
        tenant_id,
        "--email",
        "v@x.io",
        "--role",
        "viewer",
        "--print-link",
    )
    assert code == 0 and invited["link"].startswith("https://helios.cli.example/accept-invitation#")
    accept(invited["link"])
    user_id = invited["user_id"]
    service().login(tenant_id=tenant_id, email="v@x.io", password=PASSWORD)
    helios("tokens", "create", "--user", user_id)

    code, listed = helios("tokens", "list", "--user", user_id, "--sessions")
    assert code == 0 and sorted(t["kind"] for t in listed) == ["personal", "session"]
    code, revoked = helios("users", "revoke", "--user", user_id)
    assert code == 0 and len(revoked["revoked"]) == 2

    code, off = helios("users", "deactivate", "--user", user_id)
    assert code == 0 and off == {"user_id": user_id, "active": False}
    with pytest.raises(InvalidCredentials):
        service().login(tenant_id=tenant_id, email="v@x.io", password=PASSWORD)
    _, users = helios("users", "list", "--tenant", tenant_id)
    assert [u["active"] for u in users] == [False]
    code, _ = helios("users", "reactivate", "--user", user_id)
    assert code == 0
    service().login(tenant_id=tenant_id, email="v@x.io", password=PASSWORD)


def test_the_last_owner_cannot_be_deactivated_or_demoted_from_the_command_line(helios) -> None:
    _, tenant = helios("tenants", "create", "acme")
    _, owner = helios(
        "users", "create", "--tenant", tenant["tenant_id"], "--email", "o@x.io", "--role", "owner"
    )
    code, refused = helios("users", "deactivate", "--user", owner["user_id"])
    assert code == 1
    assert refused["problems"] == [
        {"field": "user_id", "message": "the last owner cannot be deactivated"}
    ]
    code, refused = helios("users", "set-role", "--user", owner["user_id"], "--role", "admin")
    assert code == 1 and refused["problems"][0]["message"] == "the last owner cannot be demoted"


def test_users_invite_without_a_relay_asks_for_one_or_print_link(
    helios, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELIOS_SMTP_HOST")
    _, tenant = helios("tenants", "create", "acme")
    code, refused = helios(
        "users", "invite", "--tenant", tenant["tenant_id"], "--email", "n@x.io", "--role", "viewer"
    )
    assert code == 1 and refused["error"] == "no SMTP relay to send the invitation"
    _, users = helios("users", "list", "--tenant", tenant["tenant_id"])
    assert users == []  # nobody was created
