"""The access decider's rules for a user's life: invitations and password resets by one-time
link, deactivation, and who may give which role."""

from __future__ import annotations

import hashlib

import pytest

from helios.domain import access
from helios.domain.access import LinkPurpose, Role
from helios.domain.errors import CommandRejected

HOUR = 3_600_000
ARGON = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def apply(state: access.AccessDirectory, *commands: access.AccessCommand) -> access.AccessDirectory:
    for command in commands:
        for event in access.decide(command, state):
            state = access.evolve(state, event)
    return state


def create(user_id: str, role: Role, at: int = 1) -> access.CreateUser:
    return access.CreateUser(user_id=user_id, email=f"{user_id}@acme.example", role=role, at=at)


def tenant() -> access.AccessDirectory:
    """An owner, an admin and a viewer."""
    return apply(
        access.initial_state("ten_1"),
        create("owner", Role.OWNER),
        create("admin", Role.ADMIN),
        create("viewer", Role.VIEWER),
    )


def invite_link(
    user_id: str = "viewer", *, at: int = 10, link_id: str = "lnk_1"
) -> access.IssueLink:
    return access.IssueLink(
        link_id=link_id,
        user_id=user_id,
        purpose=LinkPurpose.INVITATION,
        token_hash=digest(link_id),
        at=at,
        expires_at=at + HOUR,
        by="admin",
    )


def redeem(
    link_id: str = "lnk_1",
    *,
    at: int = 20,
    token: str | None = None,
    purpose: LinkPurpose = LinkPurpose.INVITATION,
) -> access.RedeemLink:
    return access.RedeemLink(
        link_id=link_id,
        purpose=purpose,
        token_hash=digest(token if token is not None else link_id),
        password_hash=ARGON,
        at=at,
    )


def test_an_invitation_link_sets_the_first_password_once() -> None:
    state = apply(tenant(), invite_link(), redeem())
    user = state.user("viewer")
    assert user is not None and user.password_hash == ARGON
    with pytest.raises(CommandRejected) as again:
        access.decide(redeem(at=30), state)
    assert again.value.problems == (("token", "is invalid, used or expired"),)


@pytest.mark.parametrize(
    "command",
    [
        redeem(token="not-the-token"),
        redeem(at=10 + HOUR),
        redeem(purpose=LinkPurpose.PASSWORD_RESET),
        redeem(link_id="lnk_unknown"),
    ],
    ids=["wrong token", "expired", "other purpose", "unknown link"],
)
def test_a_link_is_refused_with_one_answer_whatever_is_wrong(command: access.RedeemLink) -> None:
    with pytest.raises(CommandRejected) as refused:
        access.decide(command, apply(tenant(), invite_link()))
    assert refused.value.problems == (("token", "is invalid, used or expired"),)


def test_a_new_link_replaces_the_earlier_one_of_its_purpose() -> None:
    state = apply(tenant(), invite_link(), invite_link(at=11, link_id="lnk_2"))
    assert [k.link_id for k in state.links] == ["lnk_2"]
    with pytest.raises(CommandRejected):
        access.decide(redeem(), state)


def test_an_accepted_invitation_cannot_be_sent_again() -> None:
    state = apply(tenant(), invite_link(), redeem())
    with pytest.raises(CommandRejected) as refused:
        access.decide(invite_link(link_id="lnk_2", at=30), state)
    assert ("user_id", "has accepted the invitation already") in refused.value.problems


def test_a_password_reset_ends_every_session_of_the_user() -> None:
    state = apply(tenant(), invite_link(), redeem())
    session = access.StartSession(
        user_id="viewer", token_id="ses_1", token_hash=digest("s"), at=25, expires_at=25 + HOUR
    )
    reset = access.IssueLink(
        link_id="lnk_r",
        user_id="viewer",
        purpose=LinkPurpose.PASSWORD_RESET,
        token_hash=digest("lnk_r"),
        at=30,
        expires_at=30 + HOUR,
    )
    state = apply(state, session, reset)
    events = access.decide(redeem("lnk_r", at=40, purpose=LinkPurpose.PASSWORD_RESET), state)
    assert [type(e).__name__ for e in events] == ["LinkRedeemed", "PasswordSet", "TokenRevoked"]


def test_a_deactivated_user_loses_their_tokens_and_cannot_log_in_until_reactivated() -> None:
    issued = access.IssueToken(
        user_id="viewer", token_id="tok_1", token_hash=digest("t"), name="ci", at=5
    )
    state = apply(
        tenant(),
        access.SetPassword(user_id="viewer", password_hash=ARGON, at=2),
        issued,
        access.DeactivateUser(user_id="viewer", at=10, by="admin"),
    )
    token = state.token("tok_1")
    assert token is not None and not token.valid(11)
    session = access.StartSession(
        user_id="viewer", token_id="ses_1", token_hash=digest("s"), at=12, expires_at=HOUR
    )
    with pytest.raises(CommandRejected) as refused:
        access.decide(session, state)
    assert ("user_id", "deactivated") in refused.value.problems
    state = apply(state, access.ReactivateUser(user_id="viewer", at=13, by="admin"))
    assert access.decide(session, state)
    assert state.token("tok_1") == token  # reactivation brings no old token back


def test_deactivating_twice_records_it_once() -> None:
    state = apply(tenant(), access.DeactivateUser(user_id="viewer", at=10))
    assert access.decide(access.DeactivateUser(user_id="viewer", at=11), state) == ()


def test_the_last_active_owner_cannot_be_demoted_or_deactivated() -> None:
    state = tenant()
    with pytest.raises(CommandRejected) as demoted:
        access.decide(access.ChangeRole(user_id="owner", role=Role.ADMIN, at=5), state)
    assert demoted.value.problems == (("role", "the last owner cannot be demoted"),)
    with pytest.raises(CommandRejected) as deactivated:
        access.decide(access.DeactivateUser(user_id="owner", at=5), state)
    assert deactivated.value.problems == (("user_id", "the last owner cannot be deactivated"),)


def test_an_owner_may_step_down_once_another_owner_is_active() -> None:
    state = apply(tenant(), access.ChangeRole(user_id="admin", role=Role.OWNER, at=5, by="owner"))
    [changed] = access.decide(
        access.ChangeRole(user_id="owner", role=Role.ADMIN, at=6, by="owner"), state
    )
    assert isinstance(changed, access.RoleChanged)


def test_nobody_deactivates_themselves() -> None:
    state = apply(tenant(), create("owner2", Role.OWNER))
    with pytest.raises(CommandRejected) as refused:
        access.decide(access.DeactivateUser(user_id="owner", at=5, by="owner"), state)
    assert refused.value.problems == (("user_id", "you cannot deactivate yourself"),)


@pytest.mark.parametrize(
    ("target", "role"),
    [("viewer", Role.ADMIN), ("viewer", Role.OWNER), ("admin", Role.VIEWER)],
    ids=["grant admin", "grant owner", "demote an admin"],
)
def test_only_an_owner_grants_or_takes_away_admin_and_owner(target: str, role: Role) -> None:
    state = tenant()
    with pytest.raises(access.RoleNotGranted):
        access.decide(access.ChangeRole(user_id=target, role=role, at=5, by="admin"), state)
    assert access.decide(access.ChangeRole(user_id=target, role=role, at=5, by="owner"), state)


def test_an_admin_cannot_deactivate_an_admin_but_an_owner_can() -> None:
    state = apply(tenant(), create("admin2", Role.ADMIN))
    with pytest.raises(access.RoleNotGranted):
        access.decide(access.DeactivateUser(user_id="admin2", at=5, by="admin"), state)
    assert access.decide(access.DeactivateUser(user_id="admin2", at=5, by="owner"), state)
