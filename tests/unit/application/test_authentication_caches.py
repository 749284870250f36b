"""The API's authentication caches on the repository: fresh enough, caught up, bounded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import AccessService, TokenAuthenticator
from helios.apps.application.repository import TENANT, Repository, StateCache
from helios.apps.application.tenancy import KeyDirectory, TenancyService
from helios.domain.access import Role
from helios.domain.values import SourceKind
from helios.ports.event_store import EventStore, RecordedEvent

pytestmark = pytest.mark.anyio
NOW_MS = 1_800_000_000_000


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


class ReadCounting:
    """The real store, noting from which version each stream is read."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.reads: list[tuple[uuid.UUID, int]] = []

    def read_stream(self, stream_id: uuid.UUID, after_version: int = 0) -> Sequence[RecordedEvent]:
        self.reads.append((stream_id, after_version))
        return self._store.read_stream(stream_id, after_version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_tenant_older_than_its_ttl_is_caught_up_not_read_whole() -> None:
    """After ``tenant_ttl_s`` the key directory reads only the tenant's newer events."""
    store = open_event_store("memory://")
    tenancy = TenancyService(store)
    tenant = tenancy.create_tenant("acme").tenant_id
    key = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY).routing_key
    counting, clock = ReadCounting(store), Clock()
    directory = KeyDirectory(counting, tenant_ttl_s=30.0, monotonic=clock)  # type: ignore[arg-type]
    assert await directory.authenticate(key, now_ms=NOW_MS) is not None
    version = len(store.read_stream(TENANT.stream(tenant)))
    tenancy.create_integration(tenant_id=tenant, kind=SourceKind.GRAFANA)
    counting.reads.clear()

    clock.now += 31.0
    assert await directory.authenticate(key, now_ms=NOW_MS) is not None

    assert counting.reads == [(TENANT.stream(tenant), version)]


async def test_the_key_directory_keeps_a_bounded_number_of_tenants() -> None:
    """Many tenants: the least recently used are dropped, and still authenticate."""
    store = open_event_store("memory://")
    tenancy = TenancyService(store)
    keys = []
    for n in range(3):
        tenant = tenancy.create_tenant(f"t{n}").tenant_id
        keys.append(tenancy.create_integration(tenant_id=tenant, kind=SourceKind.GRAFANA))
    cache = StateCache(capacity=2)
    directory = KeyDirectory(store, repository=Repository(store, cache=cache))

    for issued in keys + keys:
        found = await directory.authenticate(issued.routing_key, now_ms=NOW_MS)
        assert found is not None and found.tenant_id == issued.tenant_id
    assert len(cache) == 2


async def test_a_token_issued_by_another_process_is_found_on_a_miss() -> None:
    """An unknown token id catches the cached directory up at once (at most every
    ``miss_refresh_s``), reading only what is new."""
    store = open_event_store("memory://")
    tenant = TenancyService(store).create_tenant("acme").tenant_id
    people = AccessService(store)
    user = people.create_user(tenant_id=tenant, email="a@acme.example", role=Role.VIEWER)
    first = people.issue_token(tenant_id=tenant, user_id=user.user_id, name="one").token
    clock = Clock()
    authenticator = TokenAuthenticator(store, ttl_s=3600, monotonic=clock)
    assert await authenticator.authenticate(first, now_ms=NOW_MS) is not None

    second = people.issue_token(tenant_id=tenant, user_id=user.user_id, name="two").token
    clock.now += 1.0

    caller = await authenticator.authenticate(second, now_ms=NOW_MS)
    assert caller is not None and caller.user.user_id == user.user_id
