"""A log recorded before label patterns were RE2 still replays as it was decided, and new inputs
over its old patterns are read by RE2 (see ``helios.domain.patterns``)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pre_re2_log import ALERTS, SILENCES_END, T0, TENANT, alertmanager, envelope

from helios import replay
from helios.adapters.store.codec import EventCodec
from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.cli import main
from helios.domain import alert, silence
from helios.domain.intake import EnvelopeNormalized, TickReceived
from helios.domain.patterns import RegexEngine, engine_for
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset
from helios.domain.values import MINUTE_MS
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "pre-re2.db"
LATER = T0 + 60 * MINUTE_MS
LONGEST_VALUE = "a" * 1023 + "!"


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    path = tmp_path / "pre-re2.db"
    shutil.copyfile(RECORDED, path)
    return path


@pytest.fixture
def store(copied: Path) -> Iterator[EventStore]:
    opened = open_event_store(f"sqlite:{copied}")
    yield opened
    opened.close()


def _silenced_by(store: EventStore, dedup_key: str) -> list[tuple[str, ...]]:
    return [
        item.event.silence_ids
        for item in store.read_stream(alert.alert_stream_id(TENANT, dedup_key))
        if isinstance(item.event, alert.AlertSilenced)
    ]


def _scores(store: EventStore, dedup_key: str) -> list[int]:
    return [
        item.event.score
        for item in store.read_stream(alert.alert_stream_id(TENANT, dedup_key))
        if alert.scores(item.event)
    ]


def test_the_recorded_log_holds_decisions_only_pythons_re_could_take(store: EventStore) -> None:
    """The fixture is what it claims: a back-reference and a Unicode \\d silenced alerts."""
    assert _silenced_by(store, "fp-backref") == [("sil-backref",)]
    assert _silenced_by(store, "fp-digits") == [("sil-digits",)]
    assert _scores(store, "fp-backref") == [100]  # 70 x 150 % (twin-team), clamped
    inputs = [e.event for e in store.read_log(0, 1_000)]
    assert all(
        engine_for(i.engine_version) is RegexEngine.PYTHON_RE
        for i in inputs
        if isinstance(i, EnvelopeNormalized | TickReceived)
    )


def test_a_log_recorded_before_re2_still_verifies(copied: Path, store: EventStore) -> None:
    """Old inputs over old patterns are decided again with re: every decision is the same."""
    report = replay.verify(store)
    assert report.divergences == ()
    assert report.decisions > 40
    assert main(["replay", "verify", "--store", f"sqlite:{copied}"]) == 0


def test_its_stored_events_decode_and_encode_back_to_the_same_bytes(copied: Path) -> None:
    """Added fields are left out at their default: no old record changes its encoding."""
    codec = EventCodec()
    with sqlite3.connect(copied) as db:
        rows = db.execute("SELECT topic, state FROM stored_events ORDER BY rowid").fetchall()
    assert len(rows) > 50
    for topic, state in rows:
        if topic.startswith("helios.marker."):
            continue
        _, event = codec.decode(topic, state)
        again = codec.encode(event)
        assert (again[0], codec.unpack(again[1])) == (topic, codec.unpack(state)), topic


def test_new_inputs_read_old_patterns_with_re2_and_the_whole_log_verifies(
    store: EventStore,
) -> None:
    """After the change: back-references hold for nothing, \\d is ASCII, (a+)+$ cannot stall
    on a 1,024-character value; old and new inputs then verify together."""
    ingest = Ingestor(store)
    again = [(f"new-{fingerprint}", labels) for fingerprint, labels in ALERTS]
    again.append(("new-longest", {"path": LONGEST_VALUE}))
    ingest.ingest(
        [
            envelope(f"new-{i}", alertmanager(key, labels, LATER), LATER + i)
            for i, (key, labels) in enumerate(again)
        ]
    )
    ingest.tick(TENANT, [key for key, _ in again], LATER + 20 * MINUTE_MS)

    assert _silenced_by(store, "new-fp-backref") == []
    assert _scores(store, "new-fp-backref") == [70]  # the twin-team multiplier holds no more
    assert _silenced_by(store, "new-fp-digits") == []
    assert _silenced_by(store, "new-fp-nested") == [("sil-nested",)]  # RE2 reads it the same
    assert _silenced_by(store, "new-longest") == []
    recorded = [e.event for e in store.read_log(0, 10_000)]
    new_inputs = [
        i
        for i in recorded
        if isinstance(i, EnvelopeNormalized) and i.signals[0].dedup_key.startswith("new-")
    ]
    assert len(new_inputs) == len(again)
    assert {engine_for(i.engine_version) for i in new_inputs} == {RegexEngine.RE2}
    ticks = [engine_for(i.engine_version) for i in recorded if isinstance(i, TickReceived)]
    assert ticks == [RegexEngine.PYTHON_RE, RegexEngine.RE2]

    report = replay.verify(store)
    assert report.divergences == ()
    assert report.inputs == 10 + len(again) + 1


def test_a_silence_created_now_is_read_by_re2_and_verifies(store: EventStore) -> None:
    """The new silence records its engine; an alert under it (and the old \\d+ one) is silenced
    and replays."""
    state = silence.initial_state(TENANT)
    stream = silence.silences_stream_id(TENANT)
    recorded = store.read_stream(stream)
    for item in recorded:
        state = silence.evolve(state, item.event)
    created = silence.decide(
        silence.CreateSilence(
            silence=silence.Silence(
                silence_id="sil-ascii",
                matchers=(LabelMatcher(name="shard", op=MatchOp.RE, value=r"[[:digit:]]+"),),
                starts_at=LATER,
                ends_at=SILENCES_END,
            ),
            at=LATER,
        ),
        state,
    )
    assert created[0].silence.regex_engine is RegexEngine.RE2
    store.append(
        AppendBatch(
            streams=(
                StreamAppend(stream_id=stream, expected_version=len(recorded), events=created),
            )
        )
    )
    Ingestor(store).ingest(
        [envelope("new-shard", alertmanager("new-shard", {"shard": "42"}, LATER), LATER)]
    )
    assert _silenced_by(store, "new-shard") == [("sil-ascii", "sil-digits")]
    assert replay.verify(store).ok


def test_what_if_reads_candidate_patterns_with_re2_over_old_inputs(store: EventStore) -> None:
    r"""\pN (RE2 only) in a candidate multiplier applies to the alert with a Unicode digit."""
    rules = Ruleset(
        version=2,
        multipliers=(
            Multiplier(
                name="numbered",
                percent=200,
                matchers=(LabelMatcher(name="shard", op=MatchOp.RE, value=r"\pN+"),),
            ),
        ),
    )
    report = replay.what_if(store, rules=rules, tenant=TENANT)
    changed = {c.dedup_key: (c.before, c.after) for c in report.changes}
    assert changed["fp-digits"] == ("P2", "P1")
