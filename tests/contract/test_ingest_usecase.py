"""The ingest use case over every event store: batched, atomic, idempotent, convergent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from store_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    event_store,
    event_store_url,
)

from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.application.repository import Snapshotting, StateCache
from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import alert
from helios.domain.values import Envelope, SourceKind, Status
from helios.ports.event_store import EventStore, RecordedEvent, StreamIndex

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"
T0 = 1_773_480_000_000


def envelope(name: str, source: SourceKind, ingest_id: str, at: int = T0) -> Envelope:
    return Envelope(
        ingest_id=ingest_id,
        tenant="acme",
        integration="int-1",
        source=source,
        received_at=at,
        body=(FIXTURES / name).read_bytes(),
    )


def whole_log(store: EventStore) -> list[tuple[int, str, int]]:
    return [(e.position, e.name, e.version) for e in store.read_log(0, 100_000)]


def test_ingesting_the_same_batch_twice_leaves_the_log_unchanged(store: EventStore) -> None:
    batch = [
        envelope("alertmanager_v4_firing.json", SourceKind.ALERTMANAGER, "e1"),
        envelope("pagerduty_v2_trigger.json", SourceKind.PAGERDUTY, "e2"),
    ]
    first = Ingestor(store).ingest(batch)
    log = whole_log(store)

    again = Ingestor(store, cache=StateCache()).ingest(batch)

    assert first.envelopes == 2 and first.signals == 3
    assert again.envelopes == 0 and again.already_processed == 2
    assert whole_log(store) == log


def test_the_report_holds_what_was_appended_at_the_positions_up_to_its_own(
    store: EventStore,
) -> None:
    """A caller acting on a batch at once has its decided events and their log positions
    without reading the log back; a batch that appended nothing reports nothing."""
    envelopes = list(TrafficGenerator(tenant="acme", start=T0, seed=11).envelopes(30))
    ingestor = Ingestor(store)
    ingestor.ingest(envelopes[:10])
    report = ingestor.ingest(envelopes[5:])
    decided = [(a.stream_id, a.expected_version + n + 1, event)
               for a in report.appended for n, event in enumerate(a.events)]  # fmt: skip
    assert len(decided) == report.events > 0
    logged = store.read_log(report.position - report.events, report.events)
    assert [e.position for e in logged] == list(
        range(report.position - report.events + 1, report.position + 1)
    )
    assert [(e.stream_id, e.version, e.event) for e in logged] == decided
    assert ingestor.ingest(envelopes[5:]).appended == ()


def test_a_batch_mixing_new_and_redelivered_envelopes_records_only_the_new(
    store: EventStore,
) -> None:
    ingestor = Ingestor(store)
    ingestor.ingest([envelope("alertmanager_v4_firing.json", SourceKind.ALERTMANAGER, "e1")])

    report = ingestor.ingest(
        [
            envelope("alertmanager_v4_firing.json", SourceKind.ALERTMANAGER, "e1"),
            envelope("alertmanager_v4_resolved.json", SourceKind.ALERTMANAGER, "e3", T0 + 60_000),
        ]
    )

    assert (report.envelopes, report.already_processed) == (1, 1)
    names = [e.name for e in store.read_log(0, 10_000)]
    assert names.count("helios.intake.envelope_received.v1") == 2


def test_an_unparseable_envelope_is_kept_in_quarantine_and_the_rest_flows(
    store: EventStore,
) -> None:
    broken = Envelope(
        ingest_id="bad",
        tenant="acme",
        integration="i",
        source=SourceKind.ALERTMANAGER,
        received_at=T0,
        body=b'{"version": "4", "alerts": "not a list"}',
    )
    good = envelope("alertmanager_v4_firing.json", SourceKind.ALERTMANAGER, "good")

    report = Ingestor(store).ingest([broken, good])

    assert report.rejected == 1 and report.envelopes == 2
    rejected = [
        e.event for e in store.read_log(0, 10_000) if e.name == "helios.intake.envelope_rejected.v1"
    ]
    assert rejected[0].ingest_id == "bad"
    assert rejected[0].errors and rejected[0].errors[0].field.startswith("alerts")


def test_two_workers_racing_on_one_alert_converge(store_url: str) -> None:
    """Two ingestors with their own caches append to the same alerts concurrently; optimistic
    concurrency serialises them, and the result equals one worker doing everything."""
    traffic = list(TrafficGenerator(tenant="acme", start=T0, problems=6).envelopes(120))
    halves = [traffic[0::2], traffic[1::2]]
    # Two handles on one store (one shared object for the in-process memory store).
    first = open_event_store(store_url)
    stores = [first, first if store_url == "memory://" else open_event_store(store_url)]
    try:
        errors: list[BaseException] = []

        def work(store: EventStore, envelopes: list[Envelope]) -> None:
            ingestor = Ingestor(store)
            try:
                for start in range(0, len(envelopes), 6):
                    ingestor.ingest(envelopes[start : start + 6])
            except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=pair) for pair in zip(stores, halves, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors

        reference = open_event_store("memory://")
        Ingestor(reference).ingest(traffic)
        for key in _alert_keys(reference):
            raced = _fold(stores[0], key)
            alone = _fold(reference, key)
            # The same observations (an HA duplicate's first copy may differ in received_at).
            assert [x.signal_id for x in raced.signals] == [x.signal_id for x in alone.signals]
            assert (raced.fold, raced.priority, raced.score) == (
                alone.fold,
                alone.priority,
                alone.score,
            )
    finally:
        for opened in {id(s): s for s in stores}.values():
            opened.close()


def test_a_tick_is_recorded_once_and_escalates_unacknowledged_p2(store: EventStore) -> None:
    ingestor = Ingestor(store)
    ingestor.ingest([envelope("alertmanager_v4_firing.json", SourceKind.ALERTMANAGER, "e1")])
    key = "3f9c1a7e52b04d18"
    started = _fold(store, key).episode
    assert started is not None and started.status is Status.TRIGGERED

    later = started.started_at + 16 * 60_000
    decided = ingestor.tick("acme", [key], later)
    again = ingestor.tick("acme", [key], later)

    assert decided >= 2 and again == 0
    names = [e.name for e in store.read_stream(alert.alert_stream_id("acme", key))]
    assert names.count("helios.alert.escalation_due.v1") == 1


def _alert_keys(store: EventStore) -> set[str]:
    return {
        e.event.signal.dedup_key
        for e in store.read_log(0, 1_000_000)
        if isinstance(e.event, alert.SignalAccepted)
    }


def _fold(store: EventStore, key: str) -> alert.AlertState:
    state = alert.initial_state("acme", key)
    for item in store.read_stream(alert.alert_stream_id("acme", key)):
        state = alert.evolve(state, item.event)
    return state


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


def test_after_a_conflict_an_alert_is_caught_up_not_read_whole(store: EventStore) -> None:
    """A stale cached alert conflicts; the retry reads only the events another worker
    appended after the cached version, never the alert's whole stream again."""
    traffic = list(TrafficGenerator(tenant="acme", start=T0, problems=1).envelopes(30))
    counting = ReadCounting(store)
    ours = Ingestor(counting, snapshotting=Snapshotting(every=0))  # type: ignore[arg-type]
    ours.ingest(traffic[:10])
    Ingestor(store).ingest(traffic[10:20])  # another worker: our cached states are now stale
    # First loads: none (new streams, known empty from one probe), or whole.
    alerts = {(s, v) for s, v in counting.reads if s in _alert_streams(store)}
    assert all(version == 0 for _, version in alerts)
    counting.reads.clear()

    report = ours.ingest(traffic[20:])

    assert report.attempts == 2
    rereads = [(s, v) for s, v in counting.reads if s in _alert_streams(store)]
    assert rereads and all(version > 0 for _, version in rereads)


def _alert_streams(store: EventStore) -> set[uuid.UUID]:
    return {alert.alert_stream_id("acme", key) for key in _alert_keys(store)}


class WithoutStreamIndex:
    """The real store, hiding that it can tell which streams exist: loads go one by one."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "existing_streams":
            raise AttributeError(name)
        return getattr(self._store, name)


def _decisions(store: EventStore) -> list[tuple[uuid.UUID, int, str, Any]]:
    return [(e.stream_id, e.version, e.name, e.event) for e in store.read_log(0, 100_000)]


def test_new_alerts_cost_no_loads_and_are_decided_as_one_by_one_loads_decide(
    store: EventStore,
) -> None:
    """A batch of alerts never seen is decided without a cold load each (one probe says their
    streams are empty); later batches load the alerts they repeat; the log is the one that
    loading every stream one by one gives."""
    traffic = list(TrafficGenerator(tenant="acme", start=T0, seed=4).envelopes(120))
    ingestor = Ingestor(store)
    first = ingestor.ingest(traffic[:40])
    assert first.signals > 0 and ingestor.stats.loads == 0
    for start in range(40, len(traffic), 40):
        Ingestor(store).ingest(traffic[start : start + 40])  # a cold cache: loads what exists

    reference = open_event_store("memory://")
    one_by_one = WithoutStreamIndex(reference)
    assert not isinstance(one_by_one, StreamIndex)
    for start in range(0, len(traffic), 40):
        Ingestor(one_by_one).ingest(traffic[start : start + 40])  # type: ignore[arg-type]
    assert _decisions(store) == _decisions(reference)
    reference.close()
