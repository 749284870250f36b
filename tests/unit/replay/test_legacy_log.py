"""A log recorded before inputs carried a version still verifies byte for byte.

``tests/fixtures/logs/legacy_pagerduty_log.jsonl`` holds the stored bytes of every event a
Helios of that time wrote for PagerDuty traffic whose handling has changed since (see
``record_legacy_log.py`` beside it). Replay must decide it again exactly as it was decided.
"""

from __future__ import annotations

import orjson
import pytest
from legacy_log import legacy_store

from helios import replay
from helios.domain import alert, versions
from helios.domain.intake import EnvelopeNormalized, EnvelopeReceived
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope
from helios.ports.event_store import EventStore

TENANT = "acme"
HA_KEY = "51ff10923c5bd6753d836442ddd771519e24c8d92a1996bd9dc2da25dab17f44"


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
    for item in store.read_stream(alert.alert_stream_id(TENANT, dedup_key)):
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


def test_the_legacy_log_replays_only_with_the_version_it_recorded(store: EventStore) -> None:
    """Its envelopes normalize to the recorded signals with the legacy version, and to other
    signals with today's: verify passes because it uses the recorded version."""
    envelopes: dict[object, Envelope] = {}
    legacy_equal, current_differs, outcomes = 0, 0, 0
    for entry in store.read_log(0, 10_000):
        match entry.event:
            case EnvelopeReceived(envelope=envelope):
                envelopes[entry.stream_id] = envelope
            case EnvelopeNormalized(signals=recorded, engine_version=version):
                envelope = envelopes[entry.stream_id]
                assert version == versions.LEGACY
                outcomes += 1
                again = normalize(envelope, Ruleset(), decode=orjson.loads, version=version)
                today = normalize(envelope, Ruleset(), decode=orjson.loads)
                assert isinstance(again, Normalized) and isinstance(today, Normalized)
                legacy_equal += again.signals == recorded
                current_differs += today.signals != recorded
    assert legacy_equal == outcomes == 18
    assert current_differs == 15  # every timestamp-less PagerDuty event, and the services
