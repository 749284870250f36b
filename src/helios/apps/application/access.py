"""Access use cases: users, passwords, logins with lockout, sessions and personal API tokens.

Credentials are bearer tokens of the form ``hx<kind>.<tenant id>.<token id>.<secret>`` (kind
``p`` personal, ``s`` session): the tenant and token id say where to look, and only the
SHA-256 of the whole token is recorded, so a token is shown once and cannot be recovered from
the store. The secret is 32 random bytes, hence a fast hash is enough; passwords, which people
choose, are hashed with argon2id (argon2-cffi's defaults) off the event loop.

One-time links (an invitation, a password reset) are tokens of the same form, kind ``i`` or
``r``, recorded the same way (SHA-256 only) with an expiry; they are sent by email
(``helios.apps.application.people``), never shown to whoever asked for them.

``AccessService`` is synchronous (CLI, admin; the API calls it in a thread).
``PasswordLogin`` is the API's login: ``AccessService.login`` behind a lockout.
``TokenAuthenticator`` is the API's cached lookup of a presented token.

Login lockout: failed logins are counted per (client address, tenant, email) — whether the
email belongs to a user or not — on the rate limiter: ``max_failures`` may fail, then one more
attempt is allowed per ``lockout_ms``. While none is allowed, every attempt from that address
for that email is refused (``LoginLocked``), right password or not, before any password is
checked. So the answers never tell a user that exists from one that does not (an unknown email
also costs a password verification, against a decoy hash), and guessing from one address never
locks the owner out from another. The count is not kept in the event log: it is not a decision
about the user, and unknown emails would let anyone grow a tenant's stream.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

import anyio.to_thread
import argon2
import attrs
import structlog

from helios.apps.application.repository import (
    ACCESS,
    TENANT,
    USER_INDEX,
    Repository,
    StateCache,
    Step,
)
from helios.apps.application.tenancy import wall_clock_ms
from helios.domain import access, user_index
from helios.domain.access import LinkPurpose, Role, TokenKind
from helios.domain.errors import CommandRejected
from helios.domain.values import Millis
from helios.ports.event_store import EventStore
from helios.ports.rate_limit import Decision, LimiterUnavailable, RateLimiter

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
DIRECTORIES_CACHED = 10_000
"""Tenants' directories an API process keeps for authenticating tokens."""
_KIND_LETTER = {TokenKind.PERSONAL: "p", TokenKind.SESSION: "s"}
_LETTER_KIND = {letter: kind for kind, letter in _KIND_LETTER.items()}
_LINK_LETTER = {LinkPurpose.INVITATION: "i", LinkPurpose.PASSWORD_RESET: "r"}
_LETTER_LINK = {letter: purpose for purpose, letter in _LINK_LETTER.items()}
INVITATION_TTL_MS = 7 * 24 * 3600 * 1000
RESET_TTL_MS = 3600 * 1000
_log = structlog.get_logger("helios.access")


class InvalidCredentials(Exception):
    """Unknown email, wrong password, or a user without a password (never says which)."""


class LoginLocked(Exception):
    """Too many failed logins from this address for this email: no attempt before ``until``
    (epoch ms)."""

    def __init__(self, until: Millis) -> None:
        super().__init__(f"locked until {until}")
        self.until = until


@attrs.frozen(kw_only=True)
class LoginPolicy:
    session_ttl_ms: Millis = 3600 * 1000
    max_failures: int = 5
    lockout_ms: Millis = 900 * 1000


@attrs.frozen(kw_only=True)
class IssuedToken:
    """A token as its owner sees it, once: the secret ``token`` and its record."""

    token: str
    record: access.Token
    user: access.User


@attrs.frozen(kw_only=True)
class IssuedLink:
    """A one-time link's secret ``token`` (to be emailed, once), its record and its user."""

    token: str
    record: access.Link
    user: access.User


@attrs.frozen(kw_only=True)
class Caller:
    """Who sent a request: the user behind a valid token."""

    tenant_id: str
    user: access.User
    token: access.Token

    @property
    def role(self) -> Role:
        return self.user.role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token(token: str) -> tuple[TokenKind, str, str] | None:
    """(kind, tenant id, token id) of a well-formed token, else None."""
    parts = token.split(".")
    if len(parts) != 4 or len(parts[0]) != 3 or not parts[0].startswith("hx"):
        return None
    kind = _LETTER_KIND.get(parts[0][2])
    if kind is None or not all(parts[1:]):
        return None
    return kind, parts[1], parts[2]


def parse_link_token(token: str) -> tuple[LinkPurpose, str, str] | None:
    """(purpose, tenant id, link id) of a well-formed link token, else None."""
    parts = token.split(".")
    if len(parts) != 4 or len(parts[0]) != 3 or not parts[0].startswith("hx"):
        return None
    purpose = _LETTER_LINK.get(parts[0][2])
    if purpose is None or not all(parts[1:]):
        return None
    return purpose, parts[1], parts[2]


@cache
def _hasher() -> argon2.PasswordHasher:
    return argon2.PasswordHasher()


@cache
def _decoy_hash() -> str:
    # Verified against when the email is unknown, so both answers take as long.
    return _hasher().hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """The argon2id hash of a password.

    Raises:
        CommandRejected: the password is too short or too long.
    """
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise CommandRejected(
            "invalid password",
            (("password", f"must be {MIN_PASSWORD_CHARS}..{MAX_PASSWORD_CHARS} characters"),),
        )
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches an argon2 hash (a password check costs one hash, always)."""
    try:
        return _hasher().verify(password_hash or _decoy_hash(), password) and bool(password_hash)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


class AccessService:
    """Load → decide → append for a tenant's users and tokens."""

    def __init__(
        self,
        store: EventStore,
        *,
        policy: LoginPolicy | None = None,
        clock: Callable[[], Millis] = wall_clock_ms,
        password_check: Callable[[str, str], bool] = verify_password,
        repository: Repository | None = None,
    ) -> None:
        self._repository = repository if repository is not None else Repository(store)
        self._policy = policy or LoginPolicy()
        self._clock = clock
        self._password_check = password_check

    def now(self) -> Millis:
        """The service's clock (epoch ms)."""
        return self._clock()

    def create_user(
        self, *, tenant_id: str, email: str, role: Role, password: str | None = None, by: str = ""
    ) -> access.User:
        """Create a user in an existing tenant, optionally with a password.

        Raises:
            CommandRejected: unknown tenant, a malformed or taken email, a bad password.
            StoreUnavailable: the store could not be reached.
        """
        if not self._repository.load(TENANT, tenant_id)[0].exists:
            raise CommandRejected("no such tenant", (("tenant_id", "unknown"),))
        password_hash = hash_password(password) if password is not None else ""
        user_id = "usr_" + uuid.uuid4().hex[:16]
        at = self._clock()
        commands: list[access.AccessCommand] = [
            access.CreateUser(user_id=user_id, email=email, role=role, at=at, by=by)
        ]
        if password_hash:
            commands.append(access.SetPassword(user_id=user_id, password_hash=password_hash, at=at))
        state = self._run(tenant_id, *commands, register=user_id)
        user = state.user(user_id)
        assert user is not None
        return user

    def set_password(self, *, tenant_id: str, user_id: str, password: str) -> None:
        """Set (or reset) a user's password; this also lifts a lockout.

        Raises:
            CommandRejected: unknown user, or the password is too short or too long.
            StoreUnavailable: the store could not be reached.
        """
        password_hash = hash_password(password)
        self._run(
            tenant_id,
            access.SetPassword(user_id=user_id, password_hash=password_hash, at=self._clock()),
        )

    def change_role(self, *, tenant_id: str, user_id: str, role: Role, by: str = "") -> None:
        """Give a user another role.

        Raises:
            CommandRejected: unknown user.
            StoreUnavailable: the store could not be reached.
        """
        self._run(tenant_id, access.ChangeRole(user_id=user_id, role=role, at=self._clock(), by=by))

    def issue_token(
        self, *, tenant_id: str, user_id: str, name: str, expires_in_ms: Millis | None = None
    ) -> IssuedToken:
        """A new personal API token for a user (shown once).

        Raises:
            CommandRejected: unknown user, an empty or long name, a non-positive expiry.
            StoreUnavailable: the store could not be reached.
        """
        at = self._clock()
        if expires_in_ms is not None and expires_in_ms <= 0:
            raise CommandRejected("invalid token", (("expires_in", "must be positive"),))
        token_id, token = _new_token(TokenKind.PERSONAL, tenant_id)
        command = access.IssueToken(
            user_id=user_id,
            token_id=token_id,
            token_hash=hash_token(token),
            name=name,
            at=at,
            expires_at=at + expires_in_ms if expires_in_ms else 0,
        )
        return self._issued(self._run(tenant_id, command), token, token_id)

    def revoke_token(self, *, tenant_id: str, token_id: str, by: str = "") -> None:
        """Revoke a token (personal or session) for good; revoking twice changes nothing.

        Raises:
            CommandRejected: no such token in this tenant.
            StoreUnavailable: the store could not be reached.
        """
        self._run(tenant_id, access.RevokeToken(token_id=token_id, at=self._clock(), by=by))

    def invite(
        self,
        *,
        tenant_id: str,
        email: str,
        role: Role,
        by: str = "",
        ttl_ms: Millis = INVITATION_TTL_MS,
    ) -> IssuedLink:
        """Create a user without a password and an invitation link for them (to be emailed).

        Raises:
            RoleNotGranted: ``by`` (a user of the tenant) may not give ``role``.
            CommandRejected: unknown tenant, a malformed or taken email.
            StoreUnavailable: the store could not be reached.
        """
        if not self._repository.load(TENANT, tenant_id)[0].exists:
            raise CommandRejected("no such tenant", (("tenant_id", "unknown"),))
        user_id = "usr_" + uuid.uuid4().hex[:16]
        at = self._clock()
        link_id, token = _new_link(LinkPurpose.INVITATION, tenant_id)
        commands = (
            access.CreateUser(user_id=user_id, email=email, role=role, at=at, by=by),
            access.IssueLink(
                link_id=link_id,
                user_id=user_id,
                purpose=LinkPurpose.INVITATION,
                token_hash=hash_token(token),
                at=at,
                expires_at=at + ttl_ms,
                by=by,
            ),
        )
        return self._link(self._run(tenant_id, *commands, register=user_id), token, link_id)

    def send_link(
        self,
        *,
        tenant_id: str,
        user_id: str,
        purpose: LinkPurpose,
        by: str = "",
        ttl_ms: Millis | None = None,
    ) -> IssuedLink:
        """A new one-time link for a user (it replaces their earlier one of this purpose).

        Raises:
            CommandRejected: unknown or deactivated user; an invitation for a user who has
                accepted one already.
            StoreUnavailable: the store could not be reached.
        """
        at = self._clock()
        if ttl_ms is None:
            ttl_ms = INVITATION_TTL_MS if purpose is LinkPurpose.INVITATION else RESET_TTL_MS
        link_id, token = _new_link(purpose, tenant_id)
        command = access.IssueLink(
            link_id=link_id,
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(token),
            at=at,
            expires_at=at + ttl_ms,
            by=by,
        )
        return self._link(self._run(tenant_id, command), token, link_id)

    def redeem_link(self, *, token: str, purpose: LinkPurpose, password: str) -> access.User:
        """Set a password with a one-time link, which is then used up; any session the user
        had ends.

        Raises:
            CommandRejected: a malformed, unknown, used or expired link or one of another
                purpose (all answered alike, naming ``token``); a bad password.
            StoreUnavailable: the store could not be reached.
        """
        parsed = parse_link_token(token)
        if parsed is None or parsed[0] is not purpose:
            raise CommandRejected("invalid link", (("token", "is invalid, used or expired"),))
        _, tenant_id, link_id = parsed
        at = self._clock()
        state, _ = self._repository.load(ACCESS, tenant_id)
        # Checked before the password is hashed: a forged link costs no argon2 run.
        link, _ = access.check_link(state, link_id, purpose, hash_token(token), at)
        command = access.RedeemLink(
            link_id=link_id,
            purpose=purpose,
            token_hash=hash_token(token),
            password_hash=hash_password(password),
            at=at,
        )
        user = self._run(tenant_id, command).user(link.user_id)
        assert user is not None  # the decider accepted the link, so its user exists
        return user

    def set_active(self, *, tenant_id: str, user_id: str, active: bool, by: str = "") -> None:
        """Deactivate a user (their tokens are revoked, they cannot log in) or reactivate
        them; doing either twice changes nothing.

        Raises:
            RoleNotGranted: ``by`` may not act on a user of this role.
            CommandRejected: unknown user; the last active owner, or oneself (deactivation).
            StoreUnavailable: the store could not be reached.
        """
        at = self._clock()
        command: access.AccessCommand = (
            access.ReactivateUser(user_id=user_id, at=at, by=by)
            if active
            else access.DeactivateUser(user_id=user_id, at=at, by=by)
        )
        self._run(tenant_id, command)

    def revoke_all(self, *, tenant_id: str, user_id: str, by: str = "") -> tuple[str, ...]:
        """Revoke every valid session and personal token of a user; the ids revoked.

        Raises:
            CommandRejected: no such user in this tenant.
            StoreUnavailable: the store could not be reached.
        """
        at = self._clock()
        live = tuple(t.token_id for t in self.credentials(tenant_id, user_id) if t.valid(at))
        if live:
            self._run(tenant_id, *(access.RevokeToken(token_id=t, at=at, by=by) for t in live))
        return live

    def credentials(self, tenant_id: str, user_id: str) -> tuple[access.Token, ...]:
        """A user's sessions and personal tokens (revoked and expired ones included), oldest
        first.

        Raises:
            CommandRejected: no such user in this tenant.
            StoreUnavailable: the store could not be reached.
        """
        state = self._repository.load(ACCESS, tenant_id)[0]
        if state.user(user_id) is None:
            raise CommandRejected("no such user", (("user_id", "unknown"),))
        return tuple(t for t in state.tokens if t.user_id == user_id)

    def user_by_email(self, tenant_id: str, email: str) -> access.User | None:
        """The tenant's user with this email (compared case-insensitively), if any.

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        return self._repository.load(ACCESS, tenant_id)[0].user_by_email(email)

    def login(self, *, tenant_id: str, email: str, password: str) -> IssuedToken:
        """Check a password and start a session (no lockout: ``PasswordLogin`` adds it).

        An unknown tenant or email, or a user without a password, is checked against a decoy
        hash, so that every refusal costs the same password verification.

        Raises:
            InvalidCredentials: unknown tenant or email, or a wrong password.
            StoreUnavailable: the store could not be reached.
        """
        state, _ = self._repository.load(ACCESS, tenant_id)
        user = state.user_by_email(email)
        now = self._clock()
        stored = user.password_hash if user is not None and user.password_hash else _decoy_hash()
        if not self._password_check(stored, password) or user is None or not user.password_hash:
            raise InvalidCredentials("wrong email or password")
        token_id, token = _new_token(TokenKind.SESSION, tenant_id)
        command = access.StartSession(
            user_id=user.user_id,
            token_id=token_id,
            token_hash=hash_token(token),
            at=now,
            expires_at=now + self._policy.session_ttl_ms,
        )
        try:
            state = self._run(tenant_id, command)
        except CommandRejected as rejected:
            # A lockout recorded in the stream by an earlier version, not yet expired.
            raise InvalidCredentials(rejected.message) from None
        return self._issued(state, token, token_id)

    def users(self, tenant_id: str) -> tuple[access.User, ...]:
        """The tenant's users.

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        return self._repository.load(ACCESS, tenant_id)[0].users

    def tokens(self, tenant_id: str, user_id: str) -> tuple[access.Token, ...]:
        """A user's personal tokens (revoked and expired ones included), oldest first.

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        state = self._repository.load(ACCESS, tenant_id)[0]
        return tuple(
            t for t in state.tokens if t.user_id == user_id and t.kind is TokenKind.PERSONAL
        )

    def tenant_of_user(self, user_id: str) -> str:
        """The tenant a user id belongs to.

        Raises:
            CommandRejected: no such user.
            StoreUnavailable: the store could not be reached.
        """
        tenant = self._repository.load(USER_INDEX, None)[0].tenant_of(user_id)
        if tenant is None:
            raise CommandRejected("no such user", (("user_id", "unknown"),))
        return tenant

    @staticmethod
    def _issued(state: access.AccessDirectory, token: str, token_id: str) -> IssuedToken:
        record = state.token(token_id)
        assert record is not None
        user = state.user(record.user_id)
        assert user is not None
        return IssuedToken(token=token, record=record, user=user)

    @staticmethod
    def _link(state: access.AccessDirectory, token: str, link_id: str) -> IssuedLink:
        record = state.link(link_id)
        assert record is not None
        user = state.user(record.user_id)
        assert user is not None
        return IssuedLink(token=token, record=record, user=user)

    def _run(
        self, tenant_id: str, *commands: access.AccessCommand, register: str | None = None
    ) -> access.AccessDirectory:
        def decide(state: access.AccessDirectory) -> list[access.AccessEvent]:
            events: list[access.AccessEvent] = []
            for command in commands:
                decided = access.decide(command, state)
                for event in decided:
                    state = access.evolve(state, event)
                events.extend(decided)
            return events

        steps: list[Step[Any, Any]] = [Step(kind=ACCESS, key=tenant_id, decide=decide)]
        if register is not None:
            # The user and the index entry commit together or not at all.
            entry = user_index.RegisterUser(user_id=register, tenant_id=tenant_id, at=self._clock())
            steps.append(
                Step(kind=USER_INDEX, key=None, decide=lambda idx: user_index.decide(entry, idx))
            )
        state: access.AccessDirectory = self._repository.execute_all(steps)[0][0]
        return state


class PasswordLogin:
    """Password logins with a lockout per (client address, tenant, email): see the module."""

    def __init__(
        self,
        access: AccessService,
        limiter: RateLimiter,
        *,
        policy: LoginPolicy | None = None,
        clock: Callable[[], Millis] = wall_clock_ms,
    ) -> None:
        self._access = access
        self._limiter = limiter
        self._policy = policy or LoginPolicy()
        self._clock = clock
        # GCRA: ``max_failures`` at once, then one per ``lockout_ms``.
        self._rate_per_s = 1000 / max(1, self._policy.lockout_ms)
        self._burst = max(1, self._policy.max_failures)

    async def login(self, *, tenant_id: str, email: str, password: str, client: str) -> IssuedToken:
        """Start a session for the right password, unless ``client`` is locked out for
        ``email``; a wrong password counts against (``client``, ``email``) alone.

        Raises:
            InvalidCredentials: unknown tenant or email, or a wrong password.
            LoginLocked: too many failures from ``client`` for ``email``, this one included.
            StoreUnavailable: the store could not be reached.
        """
        now = self._clock()
        key = self._key(tenant_id, email, client)
        wait_ms = await self._wait_ms(key, now)
        if wait_ms:
            raise LoginLocked(now + wait_ms)
        try:
            return await anyio.to_thread.run_sync(
                lambda: self._access.login(tenant_id=tenant_id, email=email, password=password)
            )
        except InvalidCredentials:
            wait_ms = await self._failed(key, now)
            if wait_ms:
                raise LoginLocked(now + wait_ms) from None
            raise

    @staticmethod
    def _key(tenant_id: str, email: str, client: str) -> str:
        # Hashed: a bounded key whatever was sent, and no address or email in the limiter.
        who = f"{tenant_id}\x00{email.casefold()}\x00{client}".encode()
        return "login:" + hashlib.sha256(who).hexdigest()

    async def _wait_ms(self, key: str, now: Millis) -> int:
        """0 when an attempt may be made now, else how long until one may."""
        try:
            state = await self._check(key, now, cost=0)
            if state.remaining > 0:
                return 0
            # Same instant, no attempt left: refused, so nothing is consumed.
            return (await self._check(key, now, cost=1)).retry_after_ms
        except LimiterUnavailable as error:
            # Fail open, like the ingestion limits: argon2 still makes each guess expensive.
            _log.warning("login lockout unavailable", error=str(error))
            return 0

    async def _failed(self, key: str, now: Millis) -> int:
        """Count a failure; 0 when another attempt may follow at once, else the wait."""
        try:
            counted = await self._check(key, now, cost=1)
        except LimiterUnavailable as error:
            _log.warning("login lockout unavailable", error=str(error))
            return 0
        if not counted.allowed:
            return counted.retry_after_ms  # locked by a concurrent attempt meanwhile
        return 0 if counted.remaining else await self._wait_ms(key, now)

    async def _check(self, key: str, now: Millis, *, cost: int) -> Decision:
        return await self._limiter.check(
            key=key, rate_per_s=self._rate_per_s, burst=self._burst, now_ms=now, cost=cost
        )


def _new_token(kind: TokenKind, tenant_id: str) -> tuple[str, str]:
    token_id = ("ses_" if kind is TokenKind.SESSION else "tok_") + uuid.uuid4().hex[:16]
    return token_id, f"hx{_KIND_LETTER[kind]}.{tenant_id}.{token_id}.{secrets.token_urlsafe(32)}"


def _new_link(purpose: LinkPurpose, tenant_id: str) -> tuple[str, str]:
    link_id = "lnk_" + uuid.uuid4().hex[:16]
    return link_id, f"hx{_LINK_LETTER[purpose]}.{tenant_id}.{link_id}.{secrets.token_urlsafe(32)}"


class TokenAuthenticator:
    """Finds the user of a bearer token, with the tenants' directories cached in a repository.

    A tenant's directory is caught up (only the events after the cached version are read) when
    older than ``ttl_s``, or at once when a token id is unknown — at most every
    ``miss_refresh_s``, so a flood of forged tokens costs one small read per interval.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        ttl_s: float = 1.0,
        miss_refresh_s: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
        repository: Repository | None = None,
    ) -> None:
        self._repository = (
            repository
            if repository is not None
            else Repository(store, cache=StateCache(DIRECTORIES_CACHED), monotonic=monotonic)
        )
        self._ttl_s = ttl_s
        self._miss_refresh_s = miss_refresh_s

    async def authenticate(self, token: str, *, now_ms: Millis) -> Caller | None:
        """The caller a token stands for, if it is valid ``now_ms``; else None.

        Raises:
            StoreUnavailable: the store had to be read and could not be.
        """
        parsed = parse_token(token)
        if parsed is None:
            return None
        kind, tenant_id, token_id = parsed
        state = await self._state(tenant_id, self._ttl_s)
        record = state.token(token_id)
        if record is None:
            state = await self._state(tenant_id, self._miss_refresh_s)
            record = state.token(token_id)
        if (
            record is None
            or record.kind is not kind
            or not hmac.compare_digest(record.token_hash, hash_token(token))
            or not record.valid(now_ms)
        ):
            return None
        user = state.user(record.user_id)
        if user is None or not user.active:
            return None
        return Caller(tenant_id=tenant_id, user=user, token=record)

    def forget(self, tenant_id: str) -> None:
        """Drop a tenant's cached directory (after this process changed it)."""
        self._repository.forget(ACCESS, tenant_id)

    async def _state(self, tenant_id: str, max_age_s: float) -> access.AccessDirectory:
        # The hot path: a cached directory is answered without a trip to a worker thread.
        cached = self._repository.cached(ACCESS, tenant_id, max_age_s=max_age_s)
        if cached is not None:
            return cached[0]
        state, _ = await anyio.to_thread.run_sync(
            lambda: self._repository.load(ACCESS, tenant_id, max_age_s=max_age_s)
        )
        return state
