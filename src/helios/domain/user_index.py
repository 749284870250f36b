"""The user index: which tenant each user id belongs to (operators name users by id).

One stream for the installation; it refuses a user id that is registered already, so ids stay
unique across tenants. A decider: ``decide`` refuses, ``evolve`` is total.
"""

from __future__ import annotations

import attrs

from helios.domain import identity
from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.values import Millis

STREAM = identity.stream_id("access.user-index")
"""The one stream of the user index."""


@attrs.frozen(kw_only=True)
class UserIndex:
    owners: tuple[tuple[str, str], ...] = ()
    """(user id, tenant id) of every user ever created."""

    def tenant_of(self, user_id: str) -> str | None:
        return next((tenant for user, tenant in self.owners if user == user_id), None)


@attrs.frozen(kw_only=True)
class RegisterUser:
    user_id: str
    tenant_id: str
    at: Millis


@event("helios.access.user_registered.v1")
@attrs.frozen(kw_only=True)
class UserRegistered:
    user_id: str
    tenant_id: str
    at: Millis


def initial_state() -> UserIndex:
    return UserIndex()


def decide(command: RegisterUser, state: UserIndex) -> tuple[UserRegistered, ...]:
    """Note which tenant a new user belongs to.

    Raises:
        CommandRejected: the user id is registered already.
    """
    if state.tenant_of(command.user_id) is not None:
        raise CommandRejected("invalid user", (("user_id", "already exists"),))
    return (UserRegistered(user_id=command.user_id, tenant_id=command.tenant_id, at=command.at),)


def evolve(state: UserIndex, event: UserRegistered) -> UserIndex:
    return UserIndex(owners=(*state.owners, (event.user_id, event.tenant_id)))
