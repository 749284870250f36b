"""People and their credentials: users, roles, sessions and personal API tokens of a tenant.

One stream per tenant (the *access directory*) holds its users and their tokens, decided with
``decide`` (which refuses) and folded with ``evolve`` (total). Everything secret arrives
already hashed — an argon2 hash for a password, a SHA-256 digest for a random token — and
every time (``at``, expiries, lockout deadlines) is passed in: nothing here reads a clock,
draws randomness or hashes anything, so the stream replays to the same state everywhere.

A user joins by invitation or is created directly; a one-time *link* (an invitation, or a
password reset) is recorded only as the SHA-256 of its random token, with its expiry, and is
dropped once redeemed, superseded or expired. A deactivated user keeps their record (and the
history that names them) but loses every token and may not log in until reactivated. Only an
owner grants (or changes the role of, or deactivates) an admin or an owner, and a tenant always
keeps at least one active owner.

Failed logins are not decided here: the lockout is per client address and email, kept by the
API's rate limiter (``helios.apps.application.access``), so that it neither reveals which emails
exist nor lets anyone lock a user out everywhere. ``LoginFailed`` events recorded by earlier
versions (which locked the user itself) are still folded, so old streams load to the same state; a
session cannot start before such a recorded lock expires (a new password lifts it). Expired
sessions are dropped from the state when the next session starts, so the state does not grow
with every login ever made.
"""

from __future__ import annotations

import enum
import hmac
import re
import uuid
from typing import Any, assert_never

import attrs

from helios.domain import identity
from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.values import Millis

MAX_EMAIL_CHARS = 254
MAX_EMAIL_LOCAL_CHARS = 64
MAX_DOMAIN_LABEL_CHARS = 63
MAX_TOKEN_NAME_CHARS = 100
# One address as people type it: a dot-atom local part (RFC 5322 atext, plus any non-ASCII
# character as RFC 6532 allows), "@", then domain labels of letters, digits and inner hyphens
# (non-ASCII letters for internationalized names). Quoted local parts and address literals are
# not taken: nobody logs in with them, and they hide the characters refused below.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LABEL_CHAR = r"[A-Za-z0-9\u0080-\U0010ffff]"
_LABEL = rf"{_LABEL_CHAR}(?:[A-Za-z0-9\u0080-\U0010ffff-]*{_LABEL_CHAR})?"
_EMAIL = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})*)")
# Control characters (C0, DEL, C1) and characters that show as nothing or as a plain space
# (no-break and other spaces, zero-width, bidi controls, variation selectors, BOM...): they
# would make one address look like another, or split a header it is written into. Listed
# explicitly rather than taken from unicodedata, so that the rule does not change with the
# Unicode tables of the Python that runs it.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\xa0\xad\u034f\u061c\u115f\u1160\u1680\u180e\u2000-\u200f"
    "\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffb]"
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Role(enum.Enum):
    """What a user may do; each role may do everything the ones before it may."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.RESPONDER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class TokenKind(enum.Enum):
    SESSION = "session"
    """Short-lived, issued by a password login (the browser client)."""
    PERSONAL = "personal"
    """A user's API token for scripts and tools: named, revocable, optionally expiring."""


class LinkPurpose(enum.Enum):
    """What a one-time link sent by email lets its holder do: set their password."""

    INVITATION = "invitation"
    """Join the tenant: the first password of an invited user."""
    PASSWORD_RESET = "password_reset"
    """Choose a new password (every session of the user ends)."""


class RoleNotGranted(CommandRejected):
    """A user asked to give a role they may not give (no escalation through the users they
    create or change): above their own, or admin and owner by anyone but an owner."""

    def __init__(self, granter: Role, role: Role, *, action: str = "create") -> None:
        super().__init__(
            f"{_a(granter)} cannot {action} {_a(role)}", (("role", "not yours to give"),)
        )
        self.granter = granter
        self.role = role


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def check_grant(granter: Role, role: Role, *, action: str = "create") -> None:
    """The rule for the roles a user hands out, which ``decide`` applies to the user named by
    ``by``: at most their own, and admin or owner only by an owner. Callers may apply it
    before they do costly work (hashing a password) for a command that will be refused.

    Raises:
        RoleNotGranted: ``granter`` may not give ``role``.
    """
    privileged = role.allows(Role.ADMIN)
    if not granter.allows(role) or (privileged and granter is not Role.OWNER):
        raise RoleNotGranted(granter, role, action=action)


def access_stream_id(tenant_id: str) -> uuid.UUID:
    """The stream of a tenant's users and tokens."""
    return identity.stream_id("access", tenant_id)


@attrs.frozen(kw_only=True)
class User:
    user_id: str
    email: str
    role: Role
    created_at: Millis
    password_hash: str = ""
    failed_logins: int = 0
    locked_until: Millis = 0
    deactivated_at: Millis = 0
    """0: active; else when the user was deactivated."""

    def locked(self, at: Millis) -> bool:
        return at < self.locked_until

    @property
    def active(self) -> bool:
        return not self.deactivated_at


@attrs.frozen(kw_only=True)
class Token:
    token_id: str
    user_id: str
    kind: TokenKind
    token_hash: str
    issued_at: Millis
    expires_at: Millis = 0
    """0: never expires (personal tokens only)."""
    name: str = ""
    revoked_at: Millis = 0

    def valid(self, at: Millis) -> bool:
        """Whether the token may be used ``at`` (not revoked, not expired)."""
        return not self.revoked_at and (not self.expires_at or at < self.expires_at)


@attrs.frozen(kw_only=True)
class Link:
    """A one-time link sent by email: only the SHA-256 of its token is kept."""

    link_id: str
    user_id: str
    purpose: LinkPurpose
    token_hash: str
    issued_at: Millis
    expires_at: Millis

    def usable(self, at: Millis) -> bool:
        return at < self.expires_at


@attrs.frozen(kw_only=True)
class AccessDirectory:
    tenant_id: str
    users: tuple[User, ...] = ()
    tokens: tuple[Token, ...] = ()
    links: tuple[Link, ...] = ()
    """Links not yet redeemed, superseded or found expired."""

    def link(self, link_id: str) -> Link | None:
        return next((k for k in self.links if k.link_id == link_id), None)

    def active_owners(self) -> tuple[User, ...]:
        return tuple(u for u in self.users if u.role is Role.OWNER and u.active)

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.user_id == user_id), None)

    def user_by_email(self, email: str) -> User | None:
        wanted = email.casefold()
        return next((u for u in self.users if u.email.casefold() == wanted), None)

    def token(self, token_id: str) -> Token | None:
        return next((t for t in self.tokens if t.token_id == token_id), None)


def initial_state(tenant_id: str) -> AccessDirectory:
    return AccessDirectory(tenant_id=tenant_id)


# --------------------------------------------------------------------------- commands


@attrs.frozen(kw_only=True)
class CreateUser:
    user_id: str
    email: str
    role: Role
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class ChangeRole:
    user_id: str
    role: Role
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class SetPassword:
    user_id: str
    password_hash: str
    at: Millis


@attrs.frozen(kw_only=True)
class StartSession:
    user_id: str
    token_id: str
    token_hash: str
    at: Millis
    expires_at: Millis


@attrs.frozen(kw_only=True)
class IssueToken:
    user_id: str
    token_id: str
    token_hash: str
    name: str
    at: Millis
    expires_at: Millis = 0


@attrs.frozen(kw_only=True)
class RevokeToken:
    token_id: str
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class IssueLink:
    """Send a user a one-time link (an invitation or a password reset); a new link of the
    same purpose replaces the user's earlier one."""

    link_id: str
    user_id: str
    purpose: LinkPurpose
    token_hash: str
    at: Millis
    expires_at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class RedeemLink:
    """Use a link, once, before it expires: it sets the user's password."""

    link_id: str
    purpose: LinkPurpose
    token_hash: str
    password_hash: str
    at: Millis


@attrs.frozen(kw_only=True)
class DeactivateUser:
    user_id: str
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class ReactivateUser:
    user_id: str
    at: Millis
    by: str = ""


AccessCommand = (
    CreateUser | ChangeRole | SetPassword | StartSession | IssueToken | RevokeToken
    | IssueLink | RedeemLink | DeactivateUser | ReactivateUser
)  # fmt: skip

# --------------------------------------------------------------------------- events


@event("helios.access.user_created.v1")
@attrs.frozen(kw_only=True)
class UserCreated:
    user_id: str
    email: str
    role: Role
    at: Millis
    by: str = ""


@event("helios.access.role_changed.v1")
@attrs.frozen(kw_only=True)
class RoleChanged:
    user_id: str
    role: Role
    at: Millis
    by: str = ""


@event("helios.access.password_set.v1")
@attrs.frozen(kw_only=True)
class PasswordSet:
    user_id: str
    password_hash: str
    at: Millis


@event("helios.access.login_failed.v1")
@attrs.frozen(kw_only=True)
class LoginFailed:
    """A wrong password, as earlier versions recorded it; no longer decided, still folded."""

    user_id: str
    at: Millis
    locked_until: Millis = 0
    """Non-zero when this failure locked the user out."""


@event("helios.access.session_started.v1")
@attrs.frozen(kw_only=True)
class SessionStarted:
    user_id: str
    token_id: str
    token_hash: str
    at: Millis
    expires_at: Millis


@event("helios.access.token_issued.v1")
@attrs.frozen(kw_only=True)
class TokenIssued:
    user_id: str
    token_id: str
    token_hash: str
    name: str
    at: Millis
    expires_at: Millis = 0


@event("helios.access.token_revoked.v1")
@attrs.frozen(kw_only=True)
class TokenRevoked:
    token_id: str
    at: Millis
    by: str = ""


@event("helios.access.link_issued.v1")
@attrs.frozen(kw_only=True)
class LinkIssued:
    link_id: str
    user_id: str
    purpose: LinkPurpose
    token_hash: str
    at: Millis
    expires_at: Millis
    by: str = ""


@event("helios.access.link_redeemed.v1")
@attrs.frozen(kw_only=True)
class LinkRedeemed:
    """Followed by the ``PasswordSet`` it allowed, and the revocation of the user's sessions."""

    link_id: str
    user_id: str
    purpose: LinkPurpose
    at: Millis


@event("helios.access.user_deactivated.v1")
@attrs.frozen(kw_only=True)
class UserDeactivated:
    """The user's tokens are revoked and their links dropped with it."""

    user_id: str
    at: Millis
    by: str = ""


@event("helios.access.user_reactivated.v1")
@attrs.frozen(kw_only=True)
class UserReactivated:
    user_id: str
    at: Millis
    by: str = ""


AccessEvent = (
    UserCreated | RoleChanged | PasswordSet | LoginFailed | SessionStarted | TokenIssued
    | TokenRevoked | LinkIssued | LinkRedeemed | UserDeactivated | UserReactivated
)  # fmt: skip


def decide(command: AccessCommand, state: AccessDirectory) -> tuple[AccessEvent, ...]:  # noqa: C901, PLR0912
    """Validate a command against the tenant's users and tokens.

    Raises:
        RoleNotGranted: a user of the tenant (``CreateUser.by``) creating a user with a role
            above their own; checked first, so the refusal says nothing about the email.
        CommandRejected: a malformed or duplicate email, user, token or link id; an unknown
            user or token; a hash that is not one; a session for a locked or deactivated
            user or one without a password; an expiry not after ``at``; a link that is
            unknown, used, expired or not for this purpose; demoting or deactivating the last
            active owner, or oneself.
    """
    match command:
        case CreateUser():
            return _create_user(command, state)
        case ChangeRole():
            return _change_role(command, state)
        case SetPassword(user_id=user_id, password_hash=password_hash, at=at):
            _require_user(state, user_id)
            if not password_hash.startswith("$argon2"):
                _refuse("invalid password", [("password_hash", "must be an argon2 hash")])
            return (PasswordSet(user_id=user_id, password_hash=password_hash, at=at),)
        case StartSession(user_id=user_id, token_id=token_id, at=at, expires_at=expires_at):
            user = _require_user(state, user_id)
            problems = _token_problems(state, token_id, command.token_hash, at, expires_at)
            if not user.password_hash:
                problems.append(("password", "the user has no password"))
            if user.locked(at):
                problems.append(("user_id", "locked after too many failed logins"))
            if not user.active:
                problems.append(("user_id", "deactivated"))
            _refuse("cannot start a session", problems)
            return (
                SessionStarted(
                    user_id=user_id,
                    token_id=token_id,
                    token_hash=command.token_hash,
                    at=at,
                    expires_at=expires_at,
                ),
            )
        case IssueToken(user_id=user_id, token_id=token_id, name=name, at=at):
            _require_user(state, user_id)
            problems = _token_problems(state, token_id, command.token_hash, at, command.expires_at)
            if not name.strip() or len(name) > MAX_TOKEN_NAME_CHARS:
                problems.append(("name", f"must be 1..{MAX_TOKEN_NAME_CHARS} characters"))
            _refuse("invalid token", problems)
            return (
                TokenIssued(
                    user_id=user_id,
                    token_id=token_id,
                    token_hash=command.token_hash,
                    name=name,
                    at=at,
                    expires_at=command.expires_at,
                ),
            )
        case RevokeToken(token_id=token_id, at=at, by=by):
            token = state.token(token_id)
            if token is None:
                raise CommandRejected("no such token", (("token_id", "unknown"),))
            if token.revoked_at:
                return ()
            return (TokenRevoked(token_id=token_id, at=at, by=by),)
        case IssueLink():
            return _issue_link(command, state)
        case RedeemLink():
            return _redeem_link(command, state)
        case DeactivateUser() | ReactivateUser():
            return _set_active(command, state)
        case _:
            assert_never(command)


def evolve(state: AccessDirectory, event: AccessEvent) -> AccessDirectory:
    match event:
        case UserCreated(user_id=user_id, email=email, role=role, at=at):
            user = User(user_id=user_id, email=email, role=role, created_at=at)
            return attrs.evolve(state, users=(*state.users, user))
        case RoleChanged(user_id=user_id, role=role):
            return _with_user(state, user_id, role=role)
        case PasswordSet(user_id=user_id, password_hash=password_hash):
            return _with_user(
                state, user_id, password_hash=password_hash, failed_logins=0, locked_until=0
            )
        case LoginFailed(user_id=user_id, at=at, locked_until=locked_until):
            found = state.user(user_id)
            if found is None:
                return state
            user = found
            expired_lock = user.locked_until and not user.locked(at)
            failures = (0 if expired_lock else user.failed_logins) + 1
            if locked_until:
                return _with_user(state, user_id, failed_logins=0, locked_until=locked_until)
            return _with_user(
                state,
                user_id,
                failed_logins=failures,
                locked_until=0 if expired_lock else user.locked_until,
            )
        case SessionStarted(user_id=user_id, at=at):
            session = Token(
                token_id=event.token_id,
                user_id=user_id,
                kind=TokenKind.SESSION,
                token_hash=event.token_hash,
                issued_at=at,
                expires_at=event.expires_at,
            )
            kept = tuple(t for t in state.tokens if t.kind is TokenKind.PERSONAL or t.valid(at))
            state = attrs.evolve(state, tokens=(*kept, session))
            return _with_user(state, user_id, failed_logins=0, locked_until=0)
        case TokenIssued(user_id=user_id, at=at):
            token = Token(
                token_id=event.token_id,
                user_id=user_id,
                kind=TokenKind.PERSONAL,
                token_hash=event.token_hash,
                issued_at=at,
                expires_at=event.expires_at,
                name=event.name,
            )
            return attrs.evolve(state, tokens=(*state.tokens, token))
        case TokenRevoked(token_id=token_id, at=at):
            return attrs.evolve(
                state,
                tokens=tuple(
                    attrs.evolve(t, revoked_at=at) if t.token_id == token_id else t
                    for t in state.tokens
                ),
            )
        case LinkIssued() | LinkRedeemed():
            return _evolve_links(state, event)
        case UserDeactivated() | UserReactivated():
            return _evolve_active(state, event)
        case _:
            assert_never(event)


def _evolve_active(
    state: AccessDirectory, event: UserDeactivated | UserReactivated
) -> AccessDirectory:
    user_id, at = event.user_id, event.at
    if isinstance(event, UserReactivated):
        return _with_user(state, user_id, deactivated_at=0)
    state = _with_user(state, user_id, deactivated_at=at)
    return attrs.evolve(
        state,
        tokens=tuple(
            attrs.evolve(t, revoked_at=at) if t.user_id == user_id and not t.revoked_at else t
            for t in state.tokens
        ),
        links=tuple(k for k in state.links if k.user_id != user_id),
    )


def _evolve_links(state: AccessDirectory, event: LinkIssued | LinkRedeemed) -> AccessDirectory:
    if isinstance(event, LinkRedeemed):
        return attrs.evolve(
            state, links=tuple(k for k in state.links if k.link_id != event.link_id)
        )
    # The new link replaces the user's earlier one of its purpose; expired ones go too.
    kept = tuple(
        k
        for k in state.links
        if k.usable(event.at) and (k.user_id, k.purpose) != (event.user_id, event.purpose)
    )
    link = Link(
        link_id=event.link_id,
        user_id=event.user_id,
        purpose=event.purpose,
        token_hash=event.token_hash,
        issued_at=event.at,
        expires_at=event.expires_at,
    )
    return attrs.evolve(state, links=(*kept, link))


# --------------------------------------------------------------------------- lifecycle rules


def _check_authority(state: AccessDirectory, by: str, user: User, role: Role, action: str) -> None:
    """A user acting on another (``by`` names a user of the tenant; anyone else — the command
    line — is not limited) may touch only roles they may give: the user's and the new one."""
    actor = state.user(by) if by else None
    if actor is None:
        return
    check_grant(actor.role, user.role, action=action)
    check_grant(actor.role, role, action=action)


def _create_user(command: CreateUser, state: AccessDirectory) -> tuple[AccessEvent, ...]:
    user_id, email, by = command.user_id, command.email, command.by
    creator = state.user(by) if by else None
    if creator is not None:
        check_grant(creator.role, command.role)
    problems = _email_problems(email)
    if not user_id:
        problems.append(("user_id", "must not be empty"))
    if state.user(user_id) is not None:
        problems.append(("user_id", "already exists"))
    if state.user_by_email(email) is not None:
        problems.append(("email", "a user with this email exists"))
    _refuse("invalid user", problems)
    return (UserCreated(user_id=user_id, email=email, role=command.role, at=command.at, by=by),)


def _change_role(command: ChangeRole, state: AccessDirectory) -> tuple[AccessEvent, ...]:
    user = _require_user(state, command.user_id)
    _check_authority(state, command.by, user, command.role, "grant")
    if user.role is command.role:
        return ()
    if user.role is Role.OWNER and state.active_owners() == (user,):
        _refuse("cannot change role", [("role", "the last owner cannot be demoted")])
    return (RoleChanged(user_id=user.user_id, role=command.role, at=command.at, by=command.by),)


def _set_active(
    command: DeactivateUser | ReactivateUser, state: AccessDirectory
) -> tuple[AccessEvent, ...]:
    user = _require_user(state, command.user_id)
    deactivate = isinstance(command, DeactivateUser)
    action = "deactivate" if deactivate else "reactivate"
    _check_authority(state, command.by, user, user.role, action)
    if user.active is not deactivate:
        return ()
    if not deactivate:
        return (UserReactivated(user_id=user.user_id, at=command.at, by=command.by),)
    if command.by == user.user_id:
        _refuse("cannot deactivate", [("user_id", "you cannot deactivate yourself")])
    if state.active_owners() == (user,):
        _refuse("cannot deactivate", [("user_id", "the last owner cannot be deactivated")])
    return (UserDeactivated(user_id=user.user_id, at=command.at, by=command.by),)


def _issue_link(command: IssueLink, state: AccessDirectory) -> tuple[AccessEvent, ...]:
    user = _require_user(state, command.user_id)
    problems: list[tuple[str, str]] = []
    if not command.link_id or state.link(command.link_id) is not None:
        problems.append(("link_id", "must be new"))
    if _SHA256_HEX.fullmatch(command.token_hash) is None:
        problems.append(("token_hash", "must be a SHA-256 hex digest"))
    if command.expires_at <= command.at:
        problems.append(("expires_at", "must be after the time of issue"))
    if not user.active:
        problems.append(("user_id", "deactivated"))
    if command.purpose is LinkPurpose.INVITATION and user.password_hash:
        problems.append(("user_id", "has accepted the invitation already"))
    _refuse("cannot send a link", problems)
    return (
        LinkIssued(
            link_id=command.link_id,
            user_id=user.user_id,
            purpose=command.purpose,
            token_hash=command.token_hash,
            at=command.at,
            expires_at=command.expires_at,
            by=command.by,
        ),
    )


def check_link(
    state: AccessDirectory, link_id: str, purpose: LinkPurpose, token_hash: str, at: Millis
) -> tuple[Link, User]:
    """The rule for redeeming a link, which ``decide`` applies to ``RedeemLink``: known, its
    token's hash (compared in constant time), its purpose, not expired, an active user.
    Callers may apply it before they do costly work (hashing the new password).

    Raises:
        CommandRejected: the link may not be used (one answer for every reason, so a guess
            learns nothing about which links exist).
    """
    link = state.link(link_id)
    user = state.user(link.user_id) if link is not None else None
    if (
        link is None
        or user is None
        or not hmac.compare_digest(link.token_hash, token_hash)
        or link.purpose is not purpose
        or not link.usable(at)
        or not user.active
    ):
        raise CommandRejected("invalid link", (("token", "is invalid, used or expired"),))
    return link, user


def _redeem_link(command: RedeemLink, state: AccessDirectory) -> tuple[AccessEvent, ...]:
    link, user = check_link(state, command.link_id, command.purpose, command.token_hash, command.at)
    if not command.password_hash.startswith("$argon2"):
        _refuse("invalid password", [("password_hash", "must be an argon2 hash")])
    at = command.at
    ended = tuple(
        TokenRevoked(token_id=t.token_id, at=at, by=user.user_id)
        for t in state.tokens
        if t.user_id == user.user_id and t.kind is TokenKind.SESSION and t.valid(at)
    )
    return (
        LinkRedeemed(link_id=link.link_id, user_id=user.user_id, purpose=link.purpose, at=at),
        PasswordSet(user_id=user.user_id, password_hash=command.password_hash, at=at),
        *ended,
    )


# --------------------------------------------------------------------------- checks


def _refuse(message: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise CommandRejected(message, tuple(problems))


def _require_user(state: AccessDirectory, user_id: str) -> User:
    user = state.user(user_id)
    if user is None:
        raise CommandRejected("no such user", (("user_id", "unknown"),))
    return user


def _with_user(state: AccessDirectory, user_id: str, **changes: Any) -> AccessDirectory:
    return attrs.evolve(
        state,
        users=tuple(attrs.evolve(u, **changes) if u.user_id == user_id else u for u in state.users),
    )


def _email_problems(email: str) -> list[tuple[str, str]]:
    if len(email) > MAX_EMAIL_CHARS:
        return [("email", f"is {len(email)} characters, at most {MAX_EMAIL_CHARS} allowed")]
    if _INVISIBLE.search(email) is not None:
        return [("email", "must not contain control or invisible characters")]
    shape = _EMAIL.fullmatch(email)
    if shape is None:
        return [("email", "must be an email address (name@domain)")]
    if len(shape["local"]) > MAX_EMAIL_LOCAL_CHARS:
        return [("email", f"the name before @ is at most {MAX_EMAIL_LOCAL_CHARS} characters")]
    if any(len(label) > MAX_DOMAIN_LABEL_CHARS for label in shape["domain"].split(".")):
        return [
            ("email", f"each part of the domain is at most {MAX_DOMAIN_LABEL_CHARS} characters")
        ]
    return []


def _token_problems(
    state: AccessDirectory, token_id: str, token_hash: str, at: Millis, expires_at: Millis
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not token_id:
        problems.append(("token_id", "must not be empty"))
    elif state.token(token_id) is not None:
        problems.append(("token_id", "already exists"))
    if _SHA256_HEX.fullmatch(token_hash) is None:
        problems.append(("token_hash", "must be a SHA-256 hex digest"))
    if expires_at and expires_at <= at:
        problems.append(("expires_at", "must be after the time of issue"))
    return problems
