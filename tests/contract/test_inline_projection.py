"""Batches projected as the worker commits them, straight from their events, give the rows of a
rebuild from the log, on SQLite and PostgreSQL read models; what the inline path could not
project (the position elsewhere, the database failing) the follower reads from the log, and
nothing is projected twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from read_model_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    db_fixture,
    read_models_url_fixture,
    store_fixture,
)

from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.composition import observe_appends
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.views.positions import committed_position
from helios.apps.views.projector import Projector
from helios.apps.views.schema import REBUILT_TABLES
from helios.apps.workers.followers import Appended, follow
from helios.domain.values import Envelope
from helios.ports.event_store import EventStore, LogEntry, StoreUnavailable
from helios.ports.read_models import Cursor, ReadModels

T0 = 1_700_000_000_000


def _envelopes(count: int) -> list[Envelope]:
    return list(TrafficGenerator(tenant="acme", start=T0, seed=23).envelopes(count))


def _tables(db: ReadModels) -> dict[str, list[Any]]:
    return {table: sorted(db.query(f"SELECT * FROM {table}"), key=repr) for table in REBUILT_TABLES}


def _rebuilt(store: EventStore, db: ReadModels) -> dict[str, list[Any]]:
    Projector(store, db).reset()
    Projector(store, db).apply(store.read_log(0, 100_000), after=0)
    return _tables(db)


class Inline:
    """The observer ``run_followers`` installs, noting what each batch came to."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.outcomes: list[bool | str] = []

    def __call__(self, entries: Sequence[LogEntry], before: int) -> None:
        try:
            self.outcomes.append(self.projector.appended(entries, before=before))
        except StoreUnavailable:
            self.outcomes.append("failed")


class FailingOnce:
    """Read models whose next write transaction fails (a database that went away), once."""

    def __init__(self, db: ReadModels) -> None:
        self._db = db
        self.fail = False

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._db.transaction() as cursor:
            yield cursor
            if self.fail:
                self.fail = False
                raise StoreUnavailable("read models: gone for a moment")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class CountingLog:
    """The store's log, counting the entries a follower was given."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.reads = 0
        self.entries = 0

    def read_log(self, after: int, limit: int, **kwargs: Any) -> Sequence[LogEntry]:
        page = self._store.read_log(after, limit, **kwargs)
        self.reads += 1
        self.entries += len(page)
        return page


def test_batches_projected_as_they_commit_give_the_rows_of_a_rebuild(
    store: EventStore, db: ReadModels, tmp_path: Path
) -> None:
    """Every batch is projected inline (in transactions of 37 entries, so that an alert's
    events fall on both sides of some) and the position follows the log's end; the follower,
    woken after the batches, is given nothing of them to read again."""
    projector = Projector(store, db, inline_page=37)
    inline = Inline(projector)
    log = CountingLog(store)
    ingestor = Ingestor(store)
    envelopes = _envelopes(163)
    elsewhere = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")  # the fixture's file

    async def scenario() -> None:
        stop, appended = asyncio.Event(), Appended()
        following = asyncio.create_task(
            follow(projector, store=log, db=db, stop=stop, poll_s=30, appended=appended)
        )
        while log.reads == 0:  # it read its position and the log, and waits for more
            await asyncio.sleep(0.01)
        for first in range(0, len(envelopes) - 3, 40):
            await asyncio.to_thread(ingestor.ingest, envelopes[first : first + 40])
            if first == 40:
                # What another process appends meanwhile: the next batch catches up with it.
                await asyncio.to_thread(Ingestor(elsewhere).ingest, envelopes[-3:])
        tick = ["checkout-latency", "disk-full"]
        await asyncio.to_thread(ingestor.tick, "acme", tick, T0 + 3_600_000)
        appended.appended()
        while log.reads == 1:
            await asyncio.sleep(0.01)
        stop.set()
        await following

    stop_inline = observe_appends(store, inline)
    assert stop_inline is not None
    try:
        asyncio.run(scenario())
    finally:
        stop_inline()
        elsewhere.close()
    assert len(inline.outcomes) == 5 and all(outcome is True for outcome in inline.outcomes)
    assert committed_position(db, "projector") == store.max_position()
    assert log.entries == 0
    live = _tables(db)
    assert live["alerts"] and live["incident_alerts"] and live["activity"]
    assert _rebuilt(store, db) == live


def test_what_the_inline_path_could_not_project_the_follower_does_and_nothing_twice(
    store: EventStore, db: ReadModels
) -> None:
    """A batch committed before the observer, too far behind to catch up with, and a batch
    whose read-model transaction failed (the next one then is too far behind) are left to
    the follower; once it caught up, batches are projected inline again; duplicates and
    activity lines, which add up, are those of a rebuild."""
    failing = FailingOnce(db)
    projector = Projector(store, failing, catch_up=5)  # type: ignore[arg-type]
    inline = Inline(projector)
    ingestor = Ingestor(store)
    envelopes = _envelopes(200)
    ingestor.ingest(envelopes[:40])  # nobody observing yet: more than 5 entries
    stop = observe_appends(store, inline)
    assert stop is not None
    ingestor.ingest(envelopes[40:80])
    assert inline.outcomes == [False]

    def catch_up() -> None:
        asyncio.run(
            follow(projector, store=store, db=db, stop=asyncio.Event(), until_caught_up=True)
        )

    catch_up()
    ingestor.ingest(envelopes[80:120])
    failing.fail = True
    ingestor.ingest(envelopes[120:160])
    ingestor.ingest(envelopes[160:])
    assert inline.outcomes == [False, True, "failed", False]
    catch_up()
    ingestor.ingest(envelopes[:200:7])  # redelivered: nothing appended, nothing projected
    stop()
    assert committed_position(db, "projector") == store.max_position()
    live = _tables(db)
    assert _rebuilt(store, db) == live
