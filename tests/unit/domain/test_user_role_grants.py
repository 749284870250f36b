"""The access decider's rule for roles: a user creates users with roles up to their own, and
only an owner creates admins and owners."""

from __future__ import annotations

import pytest

from helios.domain import access
from helios.domain.access import Role
from helios.domain.errors import CommandRejected


def directory_with(role: Role) -> access.AccessDirectory:
    state = access.initial_state("ten_1")
    created = access.CreateUser(user_id="usr_boss", email="boss@acme.example", role=role, at=1)
    for event in access.decide(created, state):
        state = access.evolve(state, event)
    return state


def create(role: Role, by: str) -> access.CreateUser:
    return access.CreateUser(user_id="usr_new", email="new@acme.example", role=role, at=2, by=by)


@pytest.mark.parametrize(
    ("creator", "role", "message"),
    [
        (Role.VIEWER, Role.RESPONDER, "a viewer cannot create a responder"),
        (Role.RESPONDER, Role.ADMIN, "a responder cannot create an admin"),
        (Role.ADMIN, Role.OWNER, "an admin cannot create an owner"),
    ],
)
def test_a_user_cannot_create_a_user_with_a_role_above_their_own(
    creator: Role, role: Role, message: str
) -> None:
    with pytest.raises(access.RoleNotGranted) as refused:
        access.decide(create(role, by="usr_boss"), directory_with(creator))
    assert refused.value.message == message
    assert isinstance(refused.value, CommandRejected)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESPONDER])
def test_an_admin_creates_viewers_and_responders(role: Role) -> None:
    [created] = access.decide(create(role, by="usr_boss"), directory_with(Role.ADMIN))
    assert isinstance(created, access.UserCreated) and created.role is role


def test_only_an_owner_creates_an_admin() -> None:
    with pytest.raises(access.RoleNotGranted) as refused:
        access.decide(create(Role.ADMIN, by="usr_boss"), directory_with(Role.ADMIN))
    assert refused.value.message == "an admin cannot create an admin"
    [created] = access.decide(create(Role.ADMIN, by="usr_boss"), directory_with(Role.OWNER))
    assert isinstance(created, access.UserCreated)


def test_a_creator_that_is_not_a_user_of_the_tenant_is_not_limited() -> None:
    """The command line and the first owner's bootstrap create users on nobody's behalf."""
    [created] = access.decide(create(Role.OWNER, by="cli"), directory_with(Role.VIEWER))
    assert created.role is Role.OWNER


def test_the_refusal_comes_before_the_other_problems_of_the_command() -> None:
    """Who may not create this user learns nothing about which emails exist."""
    taken = access.CreateUser(
        user_id="usr_new", email="boss@acme.example", role=Role.OWNER, at=2, by="usr_boss"
    )
    with pytest.raises(access.RoleNotGranted):
        access.decide(taken, directory_with(Role.ADMIN))


def test_the_rule_can_be_checked_before_a_password_is_hashed() -> None:
    with pytest.raises(access.RoleNotGranted):
        access.check_grant(Role.RESPONDER, Role.ADMIN)
    access.check_grant(Role.OWNER, Role.OWNER)
