"""Event store backends for the contract suite: memory, a SQLite file, a PostgreSQL schema.

PostgreSQL comes from ``HELIOS_TEST_DATABASE_URL`` (a server URL); each test run creates its
own database and each backend its own schema in it, so parallel runs never collide.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import psycopg
import pytest
from psycopg import sql

from helios.adapters.store.codec import EventCodec, Upcasters
from helios.adapters.store.factory import migrate, open_event_store, postgres_settings
from helios.adapters.store.memory import new_memory_recorder, open_memory_store
from helios.adapters.store.postgres import migrate_postgres, open_postgres_store
from helios.adapters.store.sqlite import open_sqlite_store
from helios.domain.events import event
from helios.ports.event_store import EventStore

BACKENDS = ("memory", "sqlite", "postgres")


@event("helios.test.noted.v1")
@attrs.frozen(kw_only=True)
class Noted:
    text: str
    n: int = 0


@event("helios.test.blob.v1")
@attrs.frozen(kw_only=True)
class Blob:
    body: bytes
    tags: tuple[str, ...] = ()


@event("helios.test.titled.v1")
@attrs.frozen(kw_only=True)
class TitledV1:
    title: str


@event("helios.test.titled.v2")
@attrs.frozen(kw_only=True)
class TitledV2:
    headline: str
    severity: str


TEST_TYPES: dict[str, type[Any]] = {
    cls.NAME: cls  # type: ignore[attr-defined]
    for cls in (Noted, Blob, TitledV1, TitledV2)
}


def titled_v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    return {"headline": fields["title"], "severity": "unknown"}


UPCASTERS: Upcasters = {TitledV1.NAME: (TitledV2.NAME, titled_v1_to_v2)}  # type: ignore[attr-defined]


def server_url_or_skip() -> str:
    """The PostgreSQL server URL, or skip (fail when services are required, as in CI)."""
    url = os.environ.get("HELIOS_TEST_DATABASE_URL", "")
    if not url:
        reason = "HELIOS_TEST_DATABASE_URL not set: no PostgreSQL server"
        if os.environ.get("HELIOS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def fresh_postgres_database() -> Iterator[str]:
    """Yield a fresh database's URL on the server of HELIOS_TEST_DATABASE_URL, then drop it."""
    server = server_url_or_skip()
    name = f"helios_test_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield urlsplit(server)._replace(path=f"/{name}").geturl()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(name="store_url", params=BACKENDS)
def event_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated event store of each backend (the application's own
    event types, opened with ``open_event_store``); a PostgreSQL schema is dropped after."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:{tmp_path}/helios.db"
    else:
        server = request.getfixturevalue("postgres_url")
        schema = f"s_{secrets.token_hex(5)}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        url = f"{server}?schema={schema}&pool_size=2"
        migrate(url)
        yield url
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(name="store")
def event_store(store_url: str) -> Iterator[EventStore]:
    """The store at ``store_url``, closed after the test."""
    opened = open_event_store(store_url)
    yield opened
    opened.close()


class Backend:
    """One empty store; ``open`` gives another handle on the same data (e.g. new upcasters)."""

    def __init__(self, kind: str, *, tmp: Path | None = None, pg_url: str | None = None):
        self.kind = kind
        self._handles: list[EventStore] = []
        self._recorder = new_memory_recorder() if kind == "memory" else None
        self._path = tmp / f"store-{secrets.token_hex(4)}.db" if tmp else None
        self._pg = None
        if kind == "postgres":
            assert pg_url is not None
            schema = f"s_{secrets.token_hex(6)}"
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            self._pg = attrs.evolve(
                postgres_settings(pg_url), schema=schema, pool_size=1, max_overflow=2
            )
            self._pg_url = pg_url
            migrate_postgres(self._pg)

    def open(self, upcasters: Upcasters | None = None) -> EventStore:
        codec = EventCodec(types=TEST_TYPES, upcasters=upcasters)
        store: EventStore
        if self.kind == "memory":
            store = open_memory_store(codec=codec, recorder=self._recorder)
        elif self.kind == "sqlite":
            assert self._path is not None
            store = open_sqlite_store(self._path, codec=codec)
        else:
            assert self._pg is not None
            store = open_postgres_store(self._pg, codec=codec)
        self._handles.append(store)
        return store

    def dispose(self) -> None:
        for store in self._handles:
            store.close()
        if self._pg is not None:
            with psycopg.connect(self._pg_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self._pg.schema))
                )
