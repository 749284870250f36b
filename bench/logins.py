"""What a refused login costs, by what was wrong: does the time tell an unknown email apart?

    .venv/bin/python bench/logins.py [--rounds 15]

Calls ``PasswordLogin.login`` in process (memory event store, in-process limiter, argon2id with
argon2-cffi's defaults), in interleaved rounds so that machine load hits every case alike, each
round from a fresh client address so that no lockout gets in the way. Prints the median and
spread per case, and each case's median relative to a known email with a wrong password. Also
the cost of an attempt that is locked out (no password is checked then, whoever it names).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time

from helios.adapters.memory.limits import InMemoryRateLimiter
from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import (
    AccessService,
    InvalidCredentials,
    LoginLocked,
    LoginPolicy,
    PasswordLogin,
)
from helios.apps.application.tenancy import TenancyService
from helios.domain.access import Role

PASSWORD = "correct horse battery"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    store = open_event_store("memory://")
    tenant = TenancyService(store).create_tenant("acme").tenant_id
    policy = LoginPolicy(max_failures=1)
    access = AccessService(store, policy=policy)
    access.create_user(
        tenant_id=tenant, email="ana@acme.example", role=Role.VIEWER, password=PASSWORD
    )
    access.create_user(tenant_id=tenant, email="nopass@acme.example", role=Role.VIEWER)
    logins = PasswordLogin(access, InMemoryRateLimiter(), policy=LoginPolicy(max_failures=10**6))
    locking = PasswordLogin(access, InMemoryRateLimiter(), policy=policy)
    cases = {
        "known email, wrong password": (tenant, "ana@acme.example"),
        "unknown email": (tenant, "nobody@acme.example"),
        "user without a password": (tenant, "nopass@acme.example"),
        "unknown tenant": ("ten_nope", "ana@acme.example"),
    }
    times: dict[str, list[float]] = {name: [] for name in [*cases, "locked out (any email)"]}
    with contextlib.suppress(InvalidCredentials):  # the decoy hash is made on first use
        await asyncio.to_thread(access.login, tenant_id=tenant, email="x", password="warm-up")
    for round_ in range(args.rounds):
        for name, (tenant_id, email) in cases.items():
            started = time.perf_counter()
            with contextlib.suppress(InvalidCredentials):
                await logins.login(
                    tenant_id=tenant_id, email=email, password="wrong!", client=f"r{round_}"
                )
            times[name].append(time.perf_counter() - started)
        # The first failure locks (max_failures=1); the next attempt is answered locked.
        with contextlib.suppress(InvalidCredentials, LoginLocked):
            await locking.login(
                tenant_id=tenant, email="ana@acme.example", password="x", client="l"
            )
        started = time.perf_counter()
        with contextlib.suppress(LoginLocked):
            await locking.login(
                tenant_id=tenant, email="ana@acme.example", password="x", client="l"
            )
        times["locked out (any email)"].append(time.perf_counter() - started)
    reference = statistics.median(times["known email, wrong password"])
    print(f"{'case':32} {'median ms':>10} {'p10..p90 ms':>16} {'vs known':>9}")
    for name, samples in times.items():
        cut = statistics.quantiles(samples, n=10)
        median = statistics.median(samples)
        print(
            f"{name:32} {median * 1000:>10.2f} {cut[0] * 1000:>7.2f}..{cut[-1] * 1000:<7.2f} "
            f"{median / reference:>9.2f}"
        )
    store.close()


if __name__ == "__main__":
    asyncio.run(main())
