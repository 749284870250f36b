"""PostgreSQL event store: the library's PostgreSQL process recorder on a psycopg 3 pool.

Opening never creates tables: run ``migrate_postgres`` (``helios.adapters.store.migrate``)
once per database first, so a misconfigured production process fails fast instead of
creating an empty store somewhere unexpected.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import attrs
import psycopg
from eventsourcing.persistence import (
    InfrastructureFactory,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
)
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.snapshots import (
    SNAPSHOTS_PURPOSE,
    AbsentSnapshotRows,
    SqlSnapshotRows,
)
from helios.ports.event_store import StoreUnavailable


class BatchInsertRecorder(PostgresProcessRecorder):
    """The library's recorder, inserting a batch as four parallel arrays.

    The library sends one array of a composite type, which psycopg dumps as text with a
    regular-expression escape per field: three quarters of an append's time at 1,000 events.
    Plain typed arrays are dumped natively; locking, NOTIFY, tracking, the pipeline and the
    returned positions stay the library's.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._insert_arrays = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    def _insert_stored_events(
        self, curs: psycopg.Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: object
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._insert_arrays,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
        )


@attrs.frozen(kw_only=True)
class PostgresSettings:
    """Where the store lives and how many connections it may hold."""

    dbname: str
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = attrs.field(default="", repr=False)
    schema: str = "public"
    pool_size: int = 5
    max_overflow: int = 10
    connect_timeout: int = 5
    # Seconds a writer waits for the table lock (0: wait as long as it takes).
    lock_timeout: int = 0

    def environment(self, *, create: bool) -> dict[str, str]:
        # POSTGRES_ENABLE_DB_FUNCTIONS stays unset: with it the library drops tracking rows.
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_POOL_SIZE": str(self.pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.max_overflow),
            "POSTGRES_CONNECT_TIMEOUT": str(self.connect_timeout),
            "POSTGRES_LOCK_TIMEOUT": str(self.lock_timeout),
            "CREATE_TABLE": "yes" if create else "no",
            # A class topic in configuration only; stored events never carry class paths.
            "PROCESS_RECORDER_TOPIC": f"{__name__}:{BatchInsertRecorder.__name__}",
        }


def open_postgres_store(settings: PostgresSettings, *, codec: EventCodec) -> RecorderEventStore:
    """An event store in an already migrated PostgreSQL database.

    Raises:
        StoreUnavailable: the server cannot be reached or the schema was not migrated.
    """
    factory, recorder = _recorder(settings, create=False)
    try:
        if recorder.stored_event_type_name not in recorder.datastore.psycopg_python_types:
            raise StoreUnavailable(
                f"no event store schema in database {settings.dbname!r}: run migrate first"
            )
        snapshot_rows = _snapshot_rows(factory, settings)
    except BaseException:
        factory.close()
        raise
    return RecorderEventStore(
        recorder=recorder,
        codec=codec,
        snapshot_rows=snapshot_rows,
        unavailable=(psycopg.Error,),
        on_close=factory.close,
        stream_probe=_existing_streams,
    )


def _existing_streams(recorder: ProcessRecorder, streams: Sequence[UUID]) -> set[UUID]:
    """Which of ``streams`` hold events: one query on the primary key's index."""
    assert isinstance(recorder, PostgresProcessRecorder)
    query = SQL(
        "SELECT DISTINCT originator_id FROM {schema}.{table} WHERE originator_id = ANY(%s)"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(query, (list(streams),))
        return {UUID(str(row["originator_id"])) for row in cursor.fetchall()}


def _snapshot_rows(
    factory: PostgresFactory, settings: PostgresSettings
) -> SqlSnapshotRows | AbsentSnapshotRows:
    """The schema's snapshot table, or none if it was migrated before snapshots existed (loads
    then read whole streams until ``migrate`` runs and the process restarts)."""
    name = "stored_" + SNAPSHOTS_PURPOSE
    table = SQL("{schema}.{table}").format(
        schema=Identifier(settings.schema), table=Identifier(name)
    )
    recorder = factory.aggregate_recorder(SNAPSHOTS_PURPOSE)
    try:
        with recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("SELECT to_regclass(%s) AS found", (table.as_string(None),))
            row = cursor.fetchone()
    except (psycopg.Error, PersistenceError) as error:
        raise StoreUnavailable(str(error)) from error
    if row is None or row["found"] is None:
        return AbsentSnapshotRows(
            f"no snapshot table in schema {settings.schema!r} of {settings.dbname!r}: run migrate"
        )
    return SqlSnapshotRows(
        recorder,
        table=table.as_string(None),
        insert_ignoring=(
            "INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "VALUES ({p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING"
        ),
        param="%s",
    )


def migrate_postgres(settings: PostgresSettings) -> None:
    """Create the store's types, tables (events, tracking, snapshots) and indexes if missing.

    Raises:
        StoreUnavailable: the server cannot be reached.
    """
    factory, _ = _recorder(settings, create=True)
    try:
        factory.aggregate_recorder(SNAPSHOTS_PURPOSE)
    except (psycopg.Error, OSError, PersistenceError) as error:
        raise StoreUnavailable(str(error)) from error
    finally:
        factory.close()


def _recorder(
    settings: PostgresSettings, *, create: bool
) -> tuple[PostgresFactory, PostgresProcessRecorder]:
    try:
        factory = InfrastructureFactory.construct(settings.environment(create=create))
        assert isinstance(factory, PostgresFactory)
        try:
            recorder = factory.process_recorder()
        except BaseException:
            factory.close()
            raise
    except (psycopg.Error, OSError, PersistenceError) as error:
        # The library wraps most driver errors in its own PersistenceError hierarchy.
        raise StoreUnavailable(str(error)) from error
    assert isinstance(recorder, PostgresProcessRecorder)
    return factory, recorder
