"""A log recorded before inputs carried a version still verifies byte for byte.

``tests/fixtures/logs/legacy_pagerduty_log.jsonl`` holds the stored bytes of every event a
Helios of that time wrote for PagerDuty traffic whose handling has changed since (see
``record_legacy_log.py`` beside it). Replay must decide it again exactly as it was decided.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent

from helios import replay
from helios.adapters.store.codec import EventCodec
from helios.adapters.store.memory import new_memory_recorder, open_memory_store
from helios.domain import alert, engine
from helios.ports.event_store import EventStore

LOG = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "legacy_pagerduty_log.jsonl"
TENANT = "acme"
HA_KEY = "51ff10923c5bd6753d836442ddd771519e24c8d92a1996bd9dc2da25dab17f44"


def legacy_store() -> EventStore:
    """A store holding exactly the recorded bytes, in log order."""
    recorder = new_memory_recorder()
    rows = [
        StoredEvent(
            originator_id=uuid.UUID(line["stream_id"]),
            originator_version=line["version"],
            topic=line["name"],
            state=base64.b64decode(line["state"]),
        )
        for line in map(json.loads, LOG.read_text().splitlines())
    ]
    recorder.insert_events(rows)
    return open_memory_store(codec=EventCodec(), recorder=recorder)


@pytest.fixture
def store() -> EventStore:
    return legacy_store()


def test_the_legacy_log_verifies_without_a_divergence(store: EventStore) -> None:
    """Every input is normalized and decided again as it was, byte for byte."""
    report = replay.verify(store)

    assert report.divergences == ()
    assert report.inputs == 20
    assert report.decisions > 80


def _alert(store: EventStore, dedup_key: str) -> alert.AlertState:
    state = alert.initial_state(TENANT, dedup_key)
    for item in store.read_stream(engine.alert_stream(TENANT, dedup_key)):
        state = alert.evolve(state, item.event)
    return state


def test_the_legacy_log_holds_the_behaviour_it_was_recorded_with(store: EventStore) -> None:
    """What the log says happened is what the old rules did: the HA pair's copies counted
    twice, one service for everything from Alertmanager, an alert for a lone acknowledge."""
    ha = _alert(store, HA_KEY)
    assert ha.episode is not None
    assert ha.episode.number == 2
    assert ha.episode.occurrences == 2
    assert ha.episode.service == "Alertmanager"
    assert ha.group_key == "service=Alertmanager"
    assert _alert(store, "never-triggered-1").signals
    assert _alert(store, "never-triggered-1").episode is None
