"""Read-model databases for the views' contract tests: a SQLite file, or a PostgreSQL schema of
its own in the session's database; and a SQLite event store to project from."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from helios.adapters.store.factory import open_event_store
from helios.apps.composition import open_read_models
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels


@pytest.fixture(name="read_models_url", params=["sqlite", "postgres"])
def read_models_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty read-model database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'readmodels.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    schema = f"rm_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[EventStore]:
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(name="db")
def db_fixture(read_models_url: str) -> Iterator[ReadModels]:
    db = open_read_models(read_models_url)
    try:
        yield db
    finally:
        db.close()
