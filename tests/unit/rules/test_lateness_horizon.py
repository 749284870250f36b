"""The lateness horizon of domain.md §4: an alert's state is bounded, whatever its history."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from domain_strategies import make_signal

from helios.adapters.store.codec import EventCodec
from helios.domain import alert, versions
from helios.domain.fold import FoldPolicy, fold_all
from helios.domain.ruleset import DEFAULT_RULESET, Ruleset, validate
from helios.domain.values import HOUR_MS, Action, Signal, Status

MIN = 60
HOUR = 3600


def ingest_all(
    signals: list[Signal],
    ruleset: Ruleset = DEFAULT_RULESET,
    *,
    engine_version: int = versions.CURRENT,
    state: alert.AlertState | None = None,
) -> tuple[alert.AlertState, list[alert.AlertEvent]]:
    state = state or alert.initial_state("t1", "k1")
    decided: list[alert.AlertEvent] = []
    for signal in signals:
        command = alert.IngestSignal(signal=signal, ruleset=ruleset, engine_version=engine_version)
        events, after = alert.decide_and_evolve(command, state)
        assert after == alert.evolve_all(state, events)
        decided.extend(events)
        state = after
    return state, decided


def flapping_free(count: int, *, every_s: int = MIN) -> list[Signal]:
    """``count`` distinct triggers and resolves, one a minute (as a check that re-fires)."""
    return [
        make_signal(
            action=Action.TRIGGER if index % 2 == 0 else Action.RESOLVE,
            offset_s=index * every_s,
            summary=f"check {index}",
        )
        for index in range(count)
    ]


def test_a_signal_older_than_the_watermark_is_recorded_flagged_and_decides_nothing() -> None:
    state, _ = ingest_all(
        [
            make_signal(action=Action.TRIGGER, offset_s=0),
            make_signal(action=Action.RESOLVE, offset_s=10 * MIN),
            make_signal(action=Action.TRIGGER, offset_s=3 * HOUR),
        ]
    )
    # A resolve from back then would have closed the episode open now, had it been in time.
    late = make_signal(action=Action.RESOLVE, offset_s=3 * HOUR - 2 * HOUR)
    events, after = alert.decide_and_evolve(
        alert.IngestSignal(signal=late, ruleset=Ruleset()), state
    )

    assert len(events) == 1
    (recorded,) = events
    assert isinstance(recorded, alert.SignalAccepted) and recorded.late_beyond_horizon
    assert recorded.signal == late
    assert after.status is Status.TRIGGERED and after.fold == state.fold
    assert (after.priority, after.score, after.notifications) == (
        state.priority,
        state.score,
        state.notifications,
    )
    assert after.total_signals == state.total_signals + 1 == 4
    assert after.late_beyond_horizon == 1
    assert late not in after.signals


def test_a_late_trigger_beyond_the_horizon_never_reopens_a_resolved_alert() -> None:
    state, _ = ingest_all(
        [
            make_signal(action=Action.TRIGGER, offset_s=0),
            make_signal(action=Action.RESOLVE, offset_s=2 * HOUR),
        ]
    )
    late = make_signal(action=Action.TRIGGER, offset_s=30 * MIN, summary="back then")
    events, after = alert.decide_and_evolve(
        alert.IngestSignal(signal=late, ruleset=Ruleset()), state
    )
    assert [type(e) for e in events] == [alert.SignalAccepted]
    assert after.status is Status.RESOLVED and after.fold.episodes == 1


def test_an_alert_keeps_at_most_the_horizon_signals_and_still_counts_them_all() -> None:
    ruleset = Ruleset(horizon_signals=10, lateness_horizon_ms=24 * HOUR_MS)
    history = flapping_free(101, every_s=10 * MIN)
    state, _ = ingest_all(history, ruleset)

    assert len(state.signals) == 10
    assert state.signals == tuple(history[-10:])
    assert state.total_signals == 101
    assert state.first_signal_at == history[0].occurred_at
    assert state.last_signal_at == history[-1].occurred_at
    # Outside the horizon, the fold summarises: episodes and the current one are exact.
    everything = fold_all(tuple(history), FoldPolicy.of(ruleset))
    assert state.fold == everything
    assert state.fold.episodes == 51


def test_an_alert_keeps_only_the_signals_within_the_time_window() -> None:
    state, _ = ingest_all(flapping_free(200))  # one a minute: 200 minutes of history

    assert len(state.signals) == 61  # from the watermark (one hour back) to now, both included
    watermark = state.watermark(state.policy or FoldPolicy())
    assert watermark is not None
    assert all(signal.occurred_at >= watermark for signal in state.signals)


def test_a_late_signal_inside_the_horizon_still_takes_its_canonical_place() -> None:
    history = flapping_free(30)
    in_order, _ = ingest_all(history)
    shuffled, _ = ingest_all([*history[:10], *history[11:], history[10]])

    assert shuffled.signals == in_order.signals and shuffled.fold == in_order.fold


def test_a_duplicate_inside_the_horizon_is_detected() -> None:
    history = flapping_free(20)
    state, _ = ingest_all(history)
    events = alert.decide(alert.IngestSignal(signal=history[5], ruleset=Ruleset()), state)
    assert [type(e) for e in events] == [alert.SignalDeduplicated]


def test_engine_version_2_keeps_every_signal_as_it_always_did() -> None:
    history = flapping_free(200)
    state, decided = ingest_all(history, engine_version=2)

    assert len(state.signals) == 200 and state.base == alert.initial_state("t", "k").base
    policies = {e.policy for e in decided if isinstance(e, alert.SignalAccepted)}
    assert policies == {FoldPolicy.of(Ruleset(), bounded=False)}
    # A resolve from three hours back still splits history, as version 2 decided.
    late = make_signal(action=Action.RESOLVE, offset_s=30 * MIN + 30)
    events = alert.decide(
        alert.IngestSignal(signal=late, ruleset=Ruleset(), engine_version=2), state
    )
    assert not any(getattr(e, "late_beyond_horizon", False) for e in events)


def test_a_policy_without_a_horizon_encodes_to_the_bytes_it_always_had() -> None:
    codec = EventCodec()
    signal = make_signal(action=Action.TRIGGER, offset_s=0)
    legacy = alert.SignalAccepted(signal=signal, policy=FoldPolicy.of(Ruleset(), bounded=False))
    _, stored = codec.encode(legacy)
    assert b"horizon" not in stored and b"late_beyond_horizon" not in stored
    bounded = alert.SignalAccepted(
        signal=signal, policy=FoldPolicy.of(Ruleset()), late_beyond_horizon=True
    )
    name, stored = codec.encode(bounded)
    assert codec.decode(name, stored) == (name, bounded)


def test_a_bounded_state_spills_and_loads_back_deciding_the_same() -> None:
    """Replay keeps evicted states as msgpack: the runs and summaries must survive it."""
    state, _ = ingest_all(flapping_free(150))
    spilled = msgspec.msgpack.encode(alert.compacted(state))
    loaded = msgspec.msgpack.decode(spilled, type=alert.AlertState)
    assert loaded == state
    late = make_signal(action=Action.TRIGGER, offset_s=149 * MIN - 90)
    command = alert.IngestSignal(signal=late, ruleset=Ruleset())
    assert alert.decide(command, loaded) == alert.decide(command, state)


def test_the_horizon_must_be_positive_and_bounded() -> None:
    problems = validate(Ruleset(version=1, lateness_horizon_ms=0, horizon_signals=0))
    assert {p.field for p in problems} == {"lateness_horizon_ms", "horizon_signals"}


def test_the_latest_trigger_is_kept_after_it_leaves_the_horizon() -> None:
    """The alert's summary, links and details come from its latest trigger, however old."""
    first = make_signal(action=Action.TRIGGER, offset_s=0, summary="disk full on db-1")
    state, _ = ingest_all([first, make_signal(action=Action.RESOLVE, offset_s=3 * HOUR)])

    assert first not in state.signals
    assert state.latest_trigger == first
