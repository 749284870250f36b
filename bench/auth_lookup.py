"""Cost of authenticating a request from the in-process caches: a routing key (ingestion API)
and a bearer token (people's API), once their tenant is cached.

    python bench/auth_lookup.py [--calls 200000] [--rounds 5]

In process, over a memory store, no HTTP: what the cache lookup adds to every request. Prints
the median over rounds of the time per call, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import AccessService, TokenAuthenticator
from helios.apps.application.tenancy import KeyDirectory, TenancyService
from helios.domain.access import Role
from helios.domain.values import SourceKind

NOW_MS = 1_800_000_000_000


async def _per_call_us(check: object, credential: str, calls: int) -> float:
    authenticate = check.authenticate  # type: ignore[attr-defined]
    assert await authenticate(credential, now_ms=NOW_MS) is not None  # warm the cache
    started = time.perf_counter()
    for _ in range(calls):
        await authenticate(credential, now_ms=NOW_MS)
    return (time.perf_counter() - started) / calls * 1e6


async def _main(calls: int, rounds: int) -> None:
    store = open_event_store("memory://")
    tenancy = TenancyService(store)
    tenant = tenancy.create_tenant("bench").tenant_id
    key = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY).routing_key
    people = AccessService(store)
    user = people.create_user(tenant_id=tenant, email="bench@example.com", role=Role.VIEWER)
    token = people.issue_token(tenant_id=tenant, user_id=user.user_id, name="bench").token
    directory = KeyDirectory(store)
    authenticator = TokenAuthenticator(store, ttl_s=3600)
    keys, tokens = [], []
    for _ in range(rounds):
        keys.append(await _per_call_us(directory, key, calls))
        tokens.append(await _per_call_us(authenticator, token, calls))
    print(f"routing key, cached tenant     {statistics.median(keys):6.2f} µs per call")
    print(f"bearer token, cached directory {statistics.median(tokens):6.2f} µs per call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(_main(args.calls, args.rounds))


if __name__ == "__main__":
    main()
