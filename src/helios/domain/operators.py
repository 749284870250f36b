"""Platform operators: a server-level role, outside every tenant, for the admin console.

Operators are created and removed from the command line; they sign in to the admin console
and see platform-wide jobs (every tenant's dead letters, projections, the scheduler). One
stream for the installation. A decider: ``decide`` refuses, ``evolve`` is total.
"""

from __future__ import annotations

import re
from typing import assert_never

import attrs

from helios.domain import identity
from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.values import Millis

STREAM = identity.stream_id("operators")
"""The one stream of the platform's operators and their sessions."""

NAME = re.compile(r"[a-z][a-z0-9._-]{1,63}\Z")


@attrs.frozen(kw_only=True)
class Operator:
    name: str
    password_hash: str
    created_at: Millis
    created_by: str = ""


@attrs.frozen(kw_only=True)
class OperatorSession:
    token_id: str
    name: str
    token_hash: str
    expires_at: Millis
    ended_at: Millis = 0

    def valid(self, at: Millis) -> bool:
        return not self.ended_at and at < self.expires_at


@attrs.frozen(kw_only=True)
class Operators:
    operators: tuple[Operator, ...] = ()
    sessions: tuple[OperatorSession, ...] = ()

    def get(self, name: str) -> Operator | None:
        return next((o for o in self.operators if o.name == name), None)

    def session(self, token_id: str) -> OperatorSession | None:
        return next((s for s in self.sessions if s.token_id == token_id), None)


# --------------------------------------------------------------------------- commands


@attrs.frozen(kw_only=True)
class CreateOperator:
    name: str
    password_hash: str
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class RemoveOperator:
    name: str
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class StartOperatorSession:
    name: str
    token_id: str
    token_hash: str
    at: Millis
    expires_at: Millis


@attrs.frozen(kw_only=True)
class EndOperatorSession:
    token_id: str
    at: Millis


OperatorCommand = CreateOperator | RemoveOperator | StartOperatorSession | EndOperatorSession

# --------------------------------------------------------------------------- events


@event("helios.operators.created.v1")
@attrs.frozen(kw_only=True)
class OperatorCreated:
    name: str
    password_hash: str
    at: Millis
    by: str = ""


@event("helios.operators.removed.v1")
@attrs.frozen(kw_only=True)
class OperatorRemoved:
    name: str
    at: Millis
    by: str = ""


@event("helios.operators.session_started.v1")
@attrs.frozen(kw_only=True)
class OperatorSessionStarted:
    name: str
    token_id: str
    token_hash: str
    at: Millis
    expires_at: Millis


@event("helios.operators.session_ended.v1")
@attrs.frozen(kw_only=True)
class OperatorSessionEnded:
    token_id: str
    at: Millis


OperatorEvent = OperatorCreated | OperatorRemoved | OperatorSessionStarted | OperatorSessionEnded


def initial_state() -> Operators:
    return Operators()


def decide(command: OperatorCommand, state: Operators) -> tuple[OperatorEvent, ...]:
    """Create or remove an operator, start or end an operator's session.

    Raises:
        CommandRejected: a malformed or taken name, an unknown operator, a session for an
            operator that does not exist, an unknown session.
    """
    match command:
        case CreateOperator(name=name):
            if NAME.match(name) is None:
                raise CommandRejected(
                    "invalid operator",
                    (("name", "2..64 of a-z 0-9 . _ -, starting with a letter"),),
                )
            if state.get(name) is not None:
                raise CommandRejected("invalid operator", (("name", "already exists"),))
            if not command.password_hash:
                raise CommandRejected("invalid operator", (("password", "required"),))
            return (
                OperatorCreated(
                    name=name, password_hash=command.password_hash, at=command.at, by=command.by
                ),
            )
        case RemoveOperator(name=name):
            if state.get(name) is None:
                raise CommandRejected("no such operator", (("name", "unknown"),))
            return (OperatorRemoved(name=name, at=command.at, by=command.by),)
        case StartOperatorSession(name=name):
            if state.get(name) is None:
                raise CommandRejected("no such operator", (("name", "unknown"),))
            return (
                OperatorSessionStarted(
                    name=name,
                    token_id=command.token_id,
                    token_hash=command.token_hash,
                    at=command.at,
                    expires_at=command.expires_at,
                ),
            )
        case EndOperatorSession(token_id=token_id):
            session = state.session(token_id)
            if session is None:
                raise CommandRejected("no such session", (("token_id", "unknown"),))
            if session.ended_at:
                return ()
            return (OperatorSessionEnded(token_id=token_id, at=command.at),)
        case _:
            assert_never(command)


def evolve(state: Operators, event: OperatorEvent) -> Operators:
    match event:
        case OperatorCreated():
            operator = Operator(
                name=event.name,
                password_hash=event.password_hash,
                created_at=event.at,
                created_by=event.by,
            )
            return attrs.evolve(state, operators=(*state.operators, operator))
        case OperatorRemoved(name=name, at=at):
            # Removing an operator ends their sessions with them.
            return Operators(
                operators=tuple(o for o in state.operators if o.name != name),
                sessions=tuple(
                    attrs.evolve(s, ended_at=s.ended_at or at) if s.name == name else s
                    for s in state.sessions
                ),
            )
        case OperatorSessionStarted():
            session = OperatorSession(
                token_id=event.token_id,
                name=event.name,
                token_hash=event.token_hash,
                expires_at=event.expires_at,
            )
            # Ended and expired sessions are dropped as new ones start: the state stays small.
            live = tuple(s for s in state.sessions if s.valid(event.at))
            return attrs.evolve(state, sessions=(*live, session))
        case OperatorSessionEnded(token_id=token_id, at=at):
            return attrs.evolve(
                state,
                sessions=tuple(
                    attrs.evolve(s, ended_at=at) if s.token_id == token_id else s
                    for s in state.sessions
                ),
            )
        case _:
            assert_never(event)
