"""A user's life through the real API, its emails read from the real SMTP sink: invited by an
admin, accepting with the emailed link, deactivated, reactivated, resetting a password by
email; every step role-checked and scoped to the caller's tenant."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest
from test_query_api import World, start_world

from helios.adapters.smtp import SmtpMailer
from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.domain.access import Role
from services import SmtpSink

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def world(
    postgres_url: str,
    redis_session_url: str,
    smtp_sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    def app(services: Services) -> Any:
        return create_app(services, mailer=SmtpMailer(host=smtp_sink.host, port=smtp_sink.port))

    made = start_world(
        postgres_url, redis_session_url, tmp_path_factory.mktemp("lifecycle"), app=app
    )
    yield next(made)
    next(made, None)


def fresh_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@lifecycle.example"


def mail_to(world: World, sink: SmtpSink, address: str, count: int = 1) -> list[Message]:
    found: list[Message] = world.wait_for(
        lambda: (m := sink.messages(to=address)) and len(m) >= count and m, timeout_s=10
    )
    return found


def parts(message: Message) -> dict[str, str]:
    """The message's text and HTML bodies by content type."""
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def link_token(message: Message) -> str:
    found = re.search(r"#token=(\S+)", parts(message)["text/plain"])
    assert found is not None
    return found.group(1)


def invite(world: World, email: str, role: str = "responder") -> dict[str, Any]:
    response = world.post(
        "/v1/users/invitations", role=Role.ADMIN, json={"email": email, "role": role}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def login(world: World, email: str, password: str) -> httpx.Response:
    tenant = world.tenants[0].tenant_id
    return world.http.post(
        "/v1/auth/login", json={"tenant": tenant, "email": email, "password": password}
    )


def test_an_invited_user_accepts_by_email_and_logs_in(world: World, smtp_sink: SmtpSink) -> None:
    email = fresh_email()
    invited = invite(world, email)
    assert invited["emailed"] is True and invited["user"]["status"] == "invited"
    assert "token" not in str(invited)  # the link goes to the inbox only
    [message] = mail_to(world, smtp_sink, email)
    bodies = parts(message)
    assert "/accept-invitation#token=hxi." in bodies["text/plain"]
    assert (
        'href="http' in bodies["text/html"]
        and "as <strong>responder</strong>" in bodies["text/html"]
    )
    accepted = world.http.post(
        "/v1/users/invitations/accept",
        json={"token": link_token(message), "password": NEW_PASSWORD},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"
    assert login(world, email, NEW_PASSWORD).status_code == 201


def test_a_used_or_forged_link_is_a_400_naming_the_token(world: World, smtp_sink: SmtpSink) -> None:
    email = fresh_email()
    invite(world, email)
    token = link_token(mail_to(world, smtp_sink, email)[0])
    body = {"token": token, "password": NEW_PASSWORD}
    assert world.http.post("/v1/users/invitations/accept", json=body).status_code == 200
    for sent in (body, {**body, "token": token[:-2] + "xx"}, {**body, "token": "nonsense"}):
        refused = world.http.post("/v1/users/invitations/accept", json=sent)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["token"]


def test_an_admin_cannot_invite_an_admin(world: World) -> None:
    response = world.post(
        "/v1/users/invitations", role=Role.ADMIN, json={"email": fresh_email(), "role": "admin"}
    )
    assert (
        response.status_code == 403
        and response.json()["detail"] == "an admin cannot create an admin"
    )
    response = world.post(
        "/v1/users/invitations",
        role=Role.RESPONDER,
        json={"email": fresh_email(), "role": "viewer"},
    )
    assert response.status_code == 403


def test_a_deactivated_user_is_locked_out_until_reactivated(world: World) -> None:
    email = fresh_email()
    created = world.post(
        "/v1/users",
        role=Role.ADMIN,
        json={"email": email, "role": "viewer", "password": NEW_PASSWORD},
    )
    user_id = created.json()["id"]
    session = login(world, email, NEW_PASSWORD).json()["token"]
    me = {"Authorization": f"Bearer {session}"}
    assert world.http.get("/v1/me", headers=me).status_code == 200
    listed = world.get(f"/v1/users/{user_id}/tokens", role=Role.ADMIN)
    assert [t["kind"] for t in listed.json()["items"]] == ["session"]
    off = world.post(f"/v1/users/{user_id}/deactivate", role=Role.ADMIN)
    assert off.status_code == 200 and off.json()["status"] == "deactivated"
    world.wait_for(lambda: world.http.get("/v1/me", headers=me).status_code == 401)
    assert login(world, email, NEW_PASSWORD).status_code == 401
    on = world.post(f"/v1/users/{user_id}/reactivate", role=Role.ADMIN)
    assert on.status_code == 200 and on.json()["status"] == "active"
    assert login(world, email, NEW_PASSWORD).status_code == 201
    assert world.http.get("/v1/me", headers=me).status_code == 401  # old sessions stay revoked


def test_another_tenants_user_is_a_404(world: World) -> None:
    user_id = world.get("/v1/me", role=Role.VIEWER, tenant=1).json()["user"]["id"]
    for path in ("deactivate", "reactivate", "invitation"):
        assert world.post(f"/v1/users/{user_id}/{path}", role=Role.OWNER).status_code == 404
    assert world.get(f"/v1/users/{user_id}/tokens", role=Role.OWNER).status_code == 404
    changed = world.post(f"/v1/users/{user_id}/role", role=Role.OWNER, json={"role": "owner"})
    assert changed.status_code == 404


def test_a_password_reset_by_email_ends_the_sessions_and_sets_the_new_password(
    world: World, smtp_sink: SmtpSink
) -> None:
    email = fresh_email()
    world.post(
        "/v1/users",
        role=Role.ADMIN,
        json={"email": email, "role": "viewer", "password": "old password!"},
    )
    session = login(world, email, "old password!").json()["token"]
    tenant = world.tenants[0].tenant_id
    for asked in (email, "nobody-" + email):
        response = world.http.post(
            "/v1/users/password-reset", json={"tenant": tenant, "email": asked}
        )
        assert response.status_code == 202, response.text
    [message] = mail_to(world, smtp_sink, email)
    assert "/reset-password#token=hxr." in parts(message)["text/plain"]
    confirmed = world.http.post(
        "/v1/users/password-reset/confirm",
        json={"token": link_token(message), "password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 200, confirmed.text
    world.wait_for(
        lambda: (
            world.http.get("/v1/me", headers={"Authorization": f"Bearer {session}"}).status_code
            == 401
        )
    )
    assert login(world, email, NEW_PASSWORD).status_code == 201
    assert smtp_sink.messages(to="nobody-" + email) == []


def test_the_openapi_document_lists_the_user_lifecycle(world: World) -> None:
    paths = world.http.get("/schema/openapi.json").json()["paths"]
    for path in (
        "/v1/users/invitations",
        "/v1/users/invitations/accept",
        "/v1/users/{user_id}/deactivate",
        "/v1/users/{user_id}/reactivate",
        "/v1/users/{user_id}/role",
        "/v1/users/{user_id}/tokens",
        "/v1/users/password-reset",
        "/v1/users/password-reset/confirm",
    ):
        assert path in paths, path
