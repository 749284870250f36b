"""A user's life through the account use cases, over an in-memory store and mailer: invited by
email, accepted, reset, deactivated and reactivated, their tokens listed and revoked."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from helios.adapters.memory.limits import InMemoryRateLimiter
from helios.adapters.memory.mailer import InMemoryMailer
from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import (
    AccessService,
    Caller,
    InvalidCredentials,
    TokenAuthenticator,
)
from helios.apps.application.accounts import Accounts, NoSuchToken, NoSuchUser
from helios.apps.application.people import RESET_BURST, PeopleMail
from helios.apps.application.tenancy import TenancyService
from helios.domain import access
from helios.domain.access import LinkPurpose, Role
from helios.domain.errors import CommandRejected
from helios.ports.event_store import EventStore

PASSWORD = "correct horse battery"
T0 = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def store() -> Iterator[EventStore]:
    opened = open_event_store("memory://")
    yield opened
    opened.close()


class World:
    def __init__(self, store: EventStore) -> None:
        self.clock = Clock()
        self.tenant = TenancyService(store).create_tenant("acme").tenant_id
        self.service = AccessService(store, clock=self.clock)
        self.mailer = InMemoryMailer()
        self.mail = PeopleMail(
            service=self.service,
            mailer=self.mailer,
            sender="helios@acme.example",
            public_url="https://helios.acme.example/",
            limiter=InMemoryRateLimiter(),
        )
        self.accounts = Accounts(self.service, TokenAuthenticator(store), self.mail)
        self.owner = self.caller("owner@acme.example", Role.OWNER)
        self.admin = self.caller("admin@acme.example", Role.ADMIN)

    def caller(self, email: str, role: Role) -> Caller:
        user = self.service.create_user(tenant_id=self.tenant, email=email, role=role)
        issued = self.service.issue_token(tenant_id=self.tenant, user_id=user.user_id, name="t")
        return Caller(tenant_id=self.tenant, user=user, token=issued.record)

    def link_token(self, index: int = -1) -> str:
        found = re.search(r"#token=(\S+)", self.mailer.sent[index].text)
        assert found is not None
        return found.group(1)


def test_an_invited_user_gets_an_email_and_logs_in_after_choosing_a_password(
    store: EventStore,
) -> None:
    world = World(store)
    invited = asyncio.run(
        world.accounts.invite(world.admin, email="new@acme.example", role=Role.RESPONDER)
    )
    assert invited.emailed and not invited.user.password_hash
    [message] = world.mailer.sent
    assert message.recipients == ("new@acme.example",)
    assert "admin@acme.example invited you" in message.text
    assert "https://helios.acme.example/accept-invitation#token=hxi." in message.text
    assert 'href="https://helios.acme.example/accept-invitation#token=hxi.' in message.html
    with pytest.raises(InvalidCredentials):
        world.service.login(tenant_id=world.tenant, email="new@acme.example", password=PASSWORD)
    token = world.link_token()
    accepted = asyncio.run(
        world.mail.redeem(token=token, purpose=LinkPurpose.INVITATION, password=PASSWORD)
    )
    assert accepted.user_id == invited.user.user_id
    session = world.service.login(
        tenant_id=world.tenant, email="new@acme.example", password=PASSWORD
    )
    assert session.user.role is Role.RESPONDER
    with pytest.raises(CommandRejected):  # once only
        asyncio.run(
            world.mail.redeem(token=token, purpose=LinkPurpose.INVITATION, password="x" * 12)
        )


def test_only_the_sha256_of_a_link_is_recorded(store: EventStore) -> None:
    world = World(store)
    asyncio.run(world.accounts.invite(world.admin, email="new@acme.example", role=Role.VIEWER))
    token = world.link_token()
    entries = store.read_log(0, 10_000, encoded=lambda _: True)
    recorded = b"".join(bytes(e.encoded or b"") for e in entries)
    assert b"lnk_" in recorded
    assert token.encode() not in recorded and token.split(".")[-1].encode() not in recorded


def test_an_invitation_expires(store: EventStore) -> None:
    world = World(store)
    asyncio.run(world.accounts.invite(world.admin, email="new@acme.example", role=Role.VIEWER))
    world.clock.now += 8 * 24 * 3600 * 1000
    with pytest.raises(CommandRejected) as refused:
        asyncio.run(
            world.mail.redeem(
                token=world.link_token(), purpose=LinkPurpose.INVITATION, password=PASSWORD
            )
        )
    assert refused.value.problems == (("token", "is invalid, used or expired"),)


def test_an_admin_cannot_invite_an_admin(store: EventStore) -> None:
    world = World(store)
    with pytest.raises(access.RoleNotGranted):
        asyncio.run(world.accounts.invite(world.admin, email="a2@acme.example", role=Role.ADMIN))
    assert world.mailer.sent == []
    asyncio.run(world.accounts.invite(world.owner, email="a2@acme.example", role=Role.ADMIN))


def test_an_invitation_whose_email_failed_can_be_sent_again(store: EventStore) -> None:
    world = World(store)
    world.mailer.fail_next()
    invited = asyncio.run(
        world.accounts.invite(world.admin, email="new@acme.example", role=Role.VIEWER)
    )
    assert not invited.emailed and world.mailer.sent == []
    again = asyncio.run(world.accounts.resend_invitation(world.admin, invited.user.user_id))
    assert again.emailed and len(world.mailer.sent) == 1


def test_a_password_reset_is_emailed_only_to_an_active_user_and_ends_their_sessions(
    store: EventStore,
) -> None:
    world = World(store)
    viewer = world.caller("v@acme.example", Role.VIEWER)
    world.service.set_password(
        tenant_id=world.tenant, user_id=viewer.user.user_id, password=PASSWORD
    )
    session = world.service.login(tenant_id=world.tenant, email="v@acme.example", password=PASSWORD)
    sent = asyncio.run(
        world.mail.request_password_reset(tenant_id=world.tenant, email="V@acme.example")
    )
    assert sent and "reset-password#token=hxr." in world.mailer.sent[-1].text
    assert not asyncio.run(
        world.mail.request_password_reset(tenant_id=world.tenant, email="nobody@acme.example")
    )
    asyncio.run(
        world.mail.redeem(
            token=world.link_token(), purpose=LinkPurpose.PASSWORD_RESET, password="a new password!"
        )
    )
    [revoked] = [
        t
        for t in world.service.credentials(world.tenant, viewer.user.user_id)
        if t.token_id == session.record.token_id
    ]
    assert revoked.revoked_at == world.clock.now
    world.service.login(tenant_id=world.tenant, email="v@acme.example", password="a new password!")


def test_password_reset_emails_to_one_address_are_limited(store: EventStore) -> None:
    world = World(store)
    sent = [
        asyncio.run(
            world.mail.request_password_reset(tenant_id=world.tenant, email="admin@acme.example")
        )
        for _ in range(RESET_BURST + 2)
    ]
    assert sent == [True] * RESET_BURST + [False, False]


def test_a_deactivated_user_is_refused_and_a_reactivated_one_logs_in_again(
    store: EventStore,
) -> None:
    world = World(store)
    viewer = world.caller("v@acme.example", Role.VIEWER)
    world.service.set_password(
        tenant_id=world.tenant, user_id=viewer.user.user_id, password=PASSWORD
    )
    user = world.accounts.set_active(world.admin, viewer.user.user_id, active=False)
    assert not user.active
    assert all(t.revoked_at for t in world.accounts.credentials(world.admin, user.user_id))
    with pytest.raises(InvalidCredentials):
        world.service.login(tenant_id=world.tenant, email="v@acme.example", password=PASSWORD)
    assert not asyncio.run(
        world.mail.request_password_reset(tenant_id=world.tenant, email="v@acme.example")
    )
    world.accounts.set_active(world.admin, viewer.user.user_id, active=True)
    world.service.login(tenant_id=world.tenant, email="v@acme.example", password=PASSWORD)


def test_an_admin_lists_and_revokes_a_users_sessions(store: EventStore) -> None:
    world = World(store)
    viewer = world.caller("v@acme.example", Role.VIEWER)
    world.service.set_password(
        tenant_id=world.tenant, user_id=viewer.user.user_id, password=PASSWORD
    )
    session = world.service.login(tenant_id=world.tenant, email="v@acme.example", password=PASSWORD)
    kinds = [t.kind.value for t in world.accounts.credentials(world.admin, viewer.user.user_id)]
    assert kinds == ["personal", "session"]
    world.accounts.revoke_user_token(world.admin, viewer.user.user_id, session.record.token_id)
    with pytest.raises(NoSuchToken):
        world.accounts.revoke_user_token(
            world.admin, viewer.user.user_id, world.admin.token.token_id
        )


def test_users_of_another_tenant_are_no_such_user(store: EventStore) -> None:
    world = World(store)
    other = World(store)
    with pytest.raises(NoSuchUser):
        world.accounts.set_active(world.admin, other.admin.user.user_id, active=False)
    with pytest.raises(NoSuchUser):
        world.accounts.credentials(world.admin, other.admin.user.user_id)


def test_the_last_owner_stays_an_owner(store: EventStore) -> None:
    world = World(store)
    with pytest.raises(CommandRejected) as refused:
        world.accounts.change_role(world.owner, world.owner.user.user_id, Role.ADMIN)
    assert refused.value.problems == (("role", "the last owner cannot be demoted"),)


def test_a_forged_link_is_refused_before_the_password_is_looked_at(store: EventStore) -> None:
    """No argon2 run for a guess: the answer names the token, even for a bad password."""
    world = World(store)
    forged = f"hxi.{world.tenant}.lnk_0123456789abcdef.guess"
    with pytest.raises(CommandRejected) as refused:
        asyncio.run(world.mail.redeem(token=forged, purpose=LinkPurpose.INVITATION, password="x"))
    assert refused.value.problems == (("token", "is invalid, used or expired"),)
