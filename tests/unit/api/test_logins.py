"""Password logins and their lockout, over a memory store and the in-process limiter.

The properties: an unknown email is answered exactly like a known one (lockout and cost of a
password check included), and a lockout holds for one (client address, email) only.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from helios.adapters.memory.limits import InMemoryRateLimiter
from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import (
    AccessService,
    InvalidCredentials,
    LoginLocked,
    LoginPolicy,
    PasswordLogin,
    verify_password,
)
from helios.apps.application.tenancy import TenancyService
from helios.domain.access import Role
from helios.ports.rate_limit import Decision, LimiterUnavailable

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery"
POLICY = LoginPolicy(max_failures=2, lockout_ms=900_000)
T0 = 1_800_000_000_000


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@attrs.define
class Clock:
    now_ms: int = T0

    def __call__(self) -> int:
        return self.now_ms


@attrs.define
class CountingCheck:
    """The real password check, remembering which hashes it verified against."""

    verified: list[str] = attrs.Factory(list)

    def __call__(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return verify_password(password_hash, password)


class UnreachableLimiter:
    async def check(self, **_: object) -> Decision:
        raise LimiterUnavailable("switched off by the test")


@attrs.define
class World:
    """One tenant with a user who has a password and one who has none. Password hashing is
    slow by design: tests share the world, each from client addresses of its own."""

    tenant: str
    access: AccessService
    logins: PasswordLogin
    clock: Clock
    check: CountingCheck

    async def attempt(self, email: str, password: str, client: str) -> object:
        """The outcome a caller sees: 'session', 'invalid', or ('locked', until)."""
        try:
            await self.logins.login(
                tenant_id=self.tenant, email=email, password=password, client=client
            )
        except InvalidCredentials:
            return "invalid"
        except LoginLocked as locked:
            return ("locked", locked.until)
        return "session"

    async def fail_until_locked(self, email: str, client: str) -> None:
        for _ in range(POLICY.max_failures):
            await self.attempt(email, "wrong password!", client)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    store = open_event_store("memory://")
    clock = Clock()
    check = CountingCheck()
    tenant = TenancyService(store, clock=clock).create_tenant("acme").tenant_id
    access = AccessService(store, policy=POLICY, clock=clock, password_check=check)
    access.create_user(
        tenant_id=tenant, email="ana@acme.example", role=Role.VIEWER, password=PASSWORD
    )
    access.create_user(tenant_id=tenant, email="nopass@acme.example", role=Role.VIEWER)
    logins = PasswordLogin(access, InMemoryRateLimiter(), policy=POLICY, clock=clock)
    yield World(tenant=tenant, access=access, logins=logins, clock=clock, check=check)
    store.close()


def locked(outcome: object) -> bool:
    return isinstance(outcome, tuple) and outcome[0] == "locked"


async def test_an_unknown_email_gets_the_same_answers_as_a_known_one_lockout_included(
    world: World,
) -> None:
    """Same outcomes, same lockout deadline: nothing tells them apart."""
    outcomes = {
        email: [await world.attempt(email, "wrong password!", "192.0.2.1") for _ in range(4)]
        for email in ("ana@acme.example", "nobody@acme.example", "nopass@acme.example")
    }
    lock = ("locked", world.clock.now_ms + POLICY.lockout_ms)
    assert outcomes["ana@acme.example"] == ["invalid", lock, lock, lock]
    assert outcomes["nobody@acme.example"] == outcomes["ana@acme.example"]
    assert outcomes["nopass@acme.example"] == outcomes["ana@acme.example"]


async def test_an_unknown_email_costs_one_password_check_like_a_known_one(world: World) -> None:
    """Each refusal verifies against an argon2 hash (a decoy when there is no user)."""
    for email in ("ana@acme.example", "nobody@acme.example", "nopass@acme.example"):
        world.check.verified.clear()
        assert await world.attempt(email, "wrong password!", "192.0.2.2") == "invalid"
        [verified] = world.check.verified
        assert verified.startswith("$argon2id$"), email


async def test_a_locked_out_attempt_checks_no_password(world: World) -> None:
    """Locked is answered before the password is looked at, known email or not."""
    for email in ("ana@acme.example", "nobody@acme.example"):
        await world.fail_until_locked(email, "192.0.2.3")
        world.check.verified.clear()
        assert locked(await world.attempt(email, PASSWORD, "192.0.2.3"))
        assert world.check.verified == []


async def test_a_lockout_from_one_address_leaves_the_owner_free_from_another(world: World) -> None:
    """Guesses from one address lock that address out of that email only."""
    await world.fail_until_locked("ana@acme.example", "203.0.113.9")
    assert locked(await world.attempt("ana@acme.example", PASSWORD, "203.0.113.9"))
    assert await world.attempt("ana@acme.example", PASSWORD, "198.51.100.7") == "session"
    assert await world.attempt("nopass@acme.example", "wrong!", "203.0.113.9") == "invalid"


async def test_the_same_email_in_another_case_counts_against_the_same_lockout(
    world: World,
) -> None:
    """Emails match case-insensitively for login; so does their lockout."""
    await world.attempt("ana@acme.example", "wrong password!", "192.0.2.4")
    await world.attempt("ANA@acme.example", "wrong password!", "192.0.2.4")
    assert locked(await world.attempt("Ana@Acme.Example", PASSWORD, "192.0.2.4"))


async def test_a_lockout_lets_one_attempt_through_per_lockout_period(world: World) -> None:
    """After the period one more attempt is allowed: the right password logs in; a wrong one
    locks again at once."""
    await world.fail_until_locked("ana@acme.example", "192.0.2.5")
    await world.fail_until_locked("nobody@acme.example", "192.0.2.5")
    world.clock.now_ms += POLICY.lockout_ms - 1
    assert locked(await world.attempt("ana@acme.example", PASSWORD, "192.0.2.5"))
    world.clock.now_ms += 1
    assert await world.attempt("ana@acme.example", PASSWORD, "192.0.2.5") == "session"
    assert await world.attempt("nobody@acme.example", "still wrong", "192.0.2.5") == (
        "locked",
        world.clock.now_ms + POLICY.lockout_ms,
    )


async def test_logins_stay_open_when_the_limiter_cannot_be_reached(world: World) -> None:
    """Fail open, like the ingestion limits: the right password still logs in."""
    logins = PasswordLogin(world.access, UnreachableLimiter(), policy=POLICY, clock=world.clock)
    for _ in range(POLICY.max_failures + 1):
        with pytest.raises(InvalidCredentials):
            await logins.login(
                tenant_id=world.tenant, email="ana@acme.example", password="wrong!", client="x"
            )
    await logins.login(
        tenant_id=world.tenant, email="ana@acme.example", password=PASSWORD, client="x"
    )
