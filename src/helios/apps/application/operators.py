"""Platform operators: create, list and remove them (the CLI), and their admin sessions.

An operator signs in with a name and a password (argon2id, like users'); a session is a bearer
token ``hxo.<token id>.<secret>`` of which only the SHA-256 is recorded, compared in constant
time. Operators are outside every tenant: the admin console shows them platform-wide jobs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable

import anyio.to_thread
import attrs
import structlog

from helios.apps.application.access import (
    InvalidCredentials,
    LoginLocked,
    LoginPolicy,
    hash_password,
    hash_token,
    verify_password,
)
from helios.apps.application.repository import Kind, Repository
from helios.apps.application.tenancy import wall_clock_ms
from helios.domain import operators
from helios.domain.values import Millis
from helios.ports.event_store import EventStore
from helios.ports.rate_limit import Decision, LimiterUnavailable, RateLimiter

OPERATORS: Kind[None, operators.Operators] = Kind(
    name="operators",
    stream=lambda _: operators.STREAM,
    initial=lambda _: operators.initial_state(),
    evolve=operators.evolve,
)
"""The platform's operators and their sessions (one stream: the key is None)."""

SESSION_TTL_MS = 8 * 3600 * 1000
_PREFIX = "hxo"
_log = structlog.get_logger("helios.operators")


@attrs.frozen(kw_only=True)
class OperatorSignIn:
    """A session just started: the secret ``token`` (shown once) and who it is for."""

    token: str
    name: str
    expires_at: Millis


class OperatorService:
    """Load → decide → append for the platform's operators."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], Millis] = wall_clock_ms,
        session_ttl_ms: Millis = SESSION_TTL_MS,
    ) -> None:
        self._repository = Repository(store)
        self._clock = clock
        self._ttl_ms = session_ttl_ms

    def create(self, *, name: str, password: str, by: str) -> operators.Operator:
        """A new operator with a password.

        Raises:
            CommandRejected: a malformed or taken name, a password too short or too long.
            StoreUnavailable: the store cannot be reached.
        """
        command = operators.CreateOperator(
            name=name, password_hash=hash_password(password), at=self._clock(), by=by
        )
        state = self._run(command)
        created = state.get(name)
        assert created is not None
        return created

    def remove(self, *, name: str, by: str) -> None:
        """Remove an operator; their sessions end with them.

        Raises:
            CommandRejected: no such operator.
            StoreUnavailable: the store cannot be reached.
        """
        self._run(operators.RemoveOperator(name=name, at=self._clock(), by=by))

    def list(self) -> tuple[operators.Operator, ...]:
        """Every operator, oldest first.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self._repository.load(OPERATORS, None)[0].operators

    def sign_in(self, *, name: str, password: str) -> OperatorSignIn:
        """Check an operator's password and start a session.

        Raises:
            InvalidCredentials: unknown operator or wrong password (never says which).
            StoreUnavailable: the store cannot be reached.
        """
        operator = self._repository.load(OPERATORS, None)[0].get(name)
        # An unknown name is checked against a decoy hash: both refusals cost the same.
        if not verify_password(operator.password_hash if operator else "", password):
            raise InvalidCredentials("wrong name or password")
        assert operator is not None
        token_id = "ops_" + uuid.uuid4().hex[:16]
        token = f"{_PREFIX}.{token_id}.{secrets.token_urlsafe(32)}"
        at = self._clock()
        self._run(
            operators.StartOperatorSession(
                name=name,
                token_id=token_id,
                token_hash=hash_token(token),
                at=at,
                expires_at=at + self._ttl_ms,
            )
        )
        return OperatorSignIn(token=token, name=name, expires_at=at + self._ttl_ms)

    def authenticate(self, token: str) -> str | None:
        """The operator a session token stands for, if it is valid now; else None.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        token_id = session_id(token)
        if token_id is None:
            return None
        state = self._repository.load(OPERATORS, None)[0]
        session = state.session(token_id)
        if (
            session is None
            or not hmac.compare_digest(session.token_hash, hash_token(token))
            or not session.valid(self._clock())
            or state.get(session.name) is None
        ):
            return None
        return session.name

    def sign_out(self, token: str) -> None:
        """End the session of a token (an unknown or ended one changes nothing).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        if self.authenticate(token) is None:
            return
        token_id = session_id(token)
        assert token_id is not None
        self._run(operators.EndOperatorSession(token_id=token_id, at=self._clock()))

    def _run(self, command: operators.OperatorCommand) -> operators.Operators:
        state: operators.Operators = self._repository.execute(
            OPERATORS, None, lambda state: operators.decide(command, state)
        )[0]
        return state


class OperatorLogin:
    """Operators' sign-ins behind the same lockout as users' (``access.PasswordLogin``): per
    (client address, name), ``max_failures`` may fail, then one attempt per ``lockout_ms``."""

    def __init__(
        self,
        operators: OperatorService,
        limiter: RateLimiter,
        *,
        policy: LoginPolicy | None = None,
        clock: Callable[[], Millis] = wall_clock_ms,
    ) -> None:
        self._operators = operators
        self._limiter = limiter
        self._policy = policy or LoginPolicy()
        self._clock = clock

    async def sign_in(self, *, name: str, password: str, client: str) -> OperatorSignIn:
        """A session for the right password, unless ``client`` is locked out for ``name``.

        Raises:
            InvalidCredentials: unknown operator or wrong password.
            LoginLocked: too many failures from ``client`` for ``name``.
            StoreUnavailable: the store cannot be reached.
        """
        key = "operator-login:" + hashlib.sha256(f"{name}\x00{client}".encode()).hexdigest()
        now = self._clock()
        if not (await self._check(key, now, cost=0)).remaining:
            raise LoginLocked(now + self._policy.lockout_ms)
        try:
            return await anyio.to_thread.run_sync(
                lambda: self._operators.sign_in(name=name, password=password)
            )
        except InvalidCredentials:
            await self._check(key, now, cost=1)
            raise

    async def _check(self, key: str, now: Millis, *, cost: int) -> Decision:
        try:
            return await self._limiter.check(
                key=key,
                rate_per_s=1000 / max(1, self._policy.lockout_ms),
                burst=max(1, self._policy.max_failures),
                now_ms=now,
                cost=cost,
            )
        except LimiterUnavailable as error:
            # Fail open, like users' logins: argon2 still makes each guess expensive.
            _log.warning("operator login lockout unavailable", error=str(error))
            return Decision(allowed=True, retry_after_ms=0, remaining=1)


def session_id(token: str) -> str | None:
    """The session id of a well-formed operator token, else None."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]
