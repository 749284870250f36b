"""The alert rules of domain.md §4-6, one behaviour per test."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from decider_dsl import Scenario
from domain_strategies import make_signal

from helios.domain import alert, versions
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset, SeverityPolicy
from helios.domain.silence import Silence
from helios.domain.values import Action, Priority, Severity, Status

RULES = Ruleset()
MIN = 60


def scenario() -> Scenario:
    return Scenario(decide=alert.decide, evolve=alert.evolve, state=alert.initial_state("t1", "k1"))


def ingest(
    action: Action, at_s: int, *, rules: Ruleset = RULES, silences=(), **kw
) -> alert.IngestSignal:
    return alert.IngestSignal(
        signal=make_signal(action=action, offset_s=at_s, **kw), ruleset=rules, silences=silences
    )


def trigger(at_s: int, **kw) -> alert.IngestSignal:
    return ingest(Action.TRIGGER, at_s, **kw)


def ack(at_s: int, **kw) -> alert.IngestSignal:
    return ingest(Action.ACKNOWLEDGE, at_s, source="user:u1", **kw)


def resolve(at_s: int, **kw) -> alert.IngestSignal:
    return ingest(Action.RESOLVE, at_s, **kw)


def tick(at_s: int, rules: Ruleset = RULES) -> alert.Tick:
    return alert.Tick(
        at=make_signal(action=Action.TRIGGER, offset_s=at_s).occurred_at, ruleset=rules
    )


def test_a_first_trigger_opens_an_episode_scores_it_and_pages() -> None:
    s = scenario().when(trigger(0, severity=Severity.CRITICAL))
    s.then_kinds(alert.SignalAccepted, alert.AlertTriggered, alert.NotificationRequested)
    # The opening carries the first score (engine version 4 on).
    assert s.the(alert.AlertTriggered).priority is Priority.P2
    assert s.the(alert.AlertTriggered).score == 70
    assert [f.name for f in s.the(alert.AlertTriggered).factors] == ["severity"]
    assert s.the(alert.NotificationRequested).reason == "triggered"
    assert (s.state.priority, s.state.score) == (Priority.P2, 70)


def test_engine_version_3_recorded_the_first_score_as_a_decision_of_its_own() -> None:
    first = msgspec.structs.replace(
        trigger(0, severity=Severity.CRITICAL), engine_version=versions.LATENESS_HORIZON
    )
    s = scenario().when(first)
    s.then_kinds(
        alert.SignalAccepted, alert.AlertTriggered, alert.AlertScored, alert.NotificationRequested
    )
    assert s.the(alert.AlertTriggered).priority is None
    assert (s.the(alert.AlertScored).priority, s.the(alert.AlertScored).score) == (Priority.P2, 70)
    assert (s.state.priority, s.state.score) == (Priority.P2, 70)


def test_a_reopened_episode_carries_its_first_score_and_a_later_change_is_scored() -> None:
    s = scenario().given(trigger(0, severity=Severity.CRITICAL), resolve(60))
    s.when(trigger(120, severity=Severity.WARNING))
    s.then_excludes(alert.AlertScored)
    reopened = s.the(alert.AlertReopened)
    assert (reopened.priority, reopened.score) == (s.state.priority, s.state.score)
    assert reopened.score is not None
    s.when(trigger(180, severity=Severity.CRITICAL))
    rescored = s.the(alert.AlertScored)
    assert (rescored.previous_priority, rescored.previous_score) == (
        reopened.priority,
        reopened.score,
    )


def test_the_same_signal_twice_is_recorded_as_a_duplicate_only() -> None:
    s = scenario().given(trigger(0)).when(trigger(0))
    s.then_kinds(alert.SignalDeduplicated)


def test_a_duplicate_of_an_older_signal_is_caught_too_not_only_of_the_last() -> None:
    """A, B, A: the second A is a duplicate even though B came in between."""
    s = scenario().given(trigger(0), trigger(60)).when(trigger(0))
    s.then_kinds(alert.SignalDeduplicated)


def test_a_resolve_that_overtakes_its_trigger_is_kept_and_placed_when_the_trigger_arrives() -> None:
    s = scenario().given(resolve(120))
    assert s.state.status is None
    s.when(trigger(0))
    assert s.state.status is Status.RESOLVED
    s.then_includes(alert.AlertTriggered, alert.AlertResolved)


def test_an_acknowledgement_holds_through_later_triggers_which_are_counted_not_renotified() -> None:
    s = (
        scenario()
        .given(trigger(0, severity=Severity.CRITICAL), ack(60))
        .when(trigger(120, severity=Severity.CRITICAL))
    )
    assert s.state.status is Status.ACKNOWLEDGED
    assert s.state.episode.occurrences == 2
    s.then_excludes(alert.NotificationRequested, alert.AlertAcknowledged, alert.AlertTriggered)


def test_a_trigger_after_a_resolve_reopens_in_a_new_episode() -> None:
    s = scenario().given(trigger(0), resolve(60)).when(trigger(120))
    s.then_includes(alert.AlertReopened)
    assert s.state.episode.number == 2
    assert (
        s.state.episode.started_at == make_signal(action=Action.TRIGGER, offset_s=120).occurred_at
    )


def test_a_signal_older_than_the_episode_start_is_recorded_as_late() -> None:
    s = scenario().given(trigger(0), resolve(60), trigger(600)).when(ack(30))
    s.then_includes(alert.SignalLate)
    assert s.state.status is Status.TRIGGERED  # the ack fell into the closed episode


def test_severity_is_the_highest_seen_in_the_episode_by_default() -> None:
    s = (
        scenario()
        .given(trigger(0, severity=Severity.CRITICAL))
        .when(trigger(60, severity=Severity.INFO))
    )
    assert s.state.episode.severity is Severity.CRITICAL


def test_a_ruleset_may_choose_the_latest_severity() -> None:
    latest = Ruleset(severity_policy=SeverityPolicy.LATEST)
    s = scenario().given(trigger(0, severity=Severity.CRITICAL, rules=latest))
    s.when(trigger(60, severity=Severity.INFO, rules=latest))
    assert s.state.episode.severity is Severity.INFO


def test_sources_are_the_sorted_set_of_all_reporters_and_occurrences_count_distinct_triggers() -> (
    None
):
    s = scenario().given(trigger(0, source="grafana"), trigger(10, source="alertmanager"))
    s.when(trigger(20, source="pagerduty"))
    assert s.state.episode.sources == ("alertmanager", "grafana", "pagerduty")
    assert s.state.episode.occurrences == 3


def test_recurrence_raises_the_score_up_to_its_cap() -> None:
    s = scenario().given(*(trigger(i * 10, severity=Severity.ERROR) for i in range(10)))
    assert s.state.score == 50 + 10  # +2 per extra occurrence, capped at +10


def test_a_matching_multiplier_is_applied_and_named_in_the_factors() -> None:
    tier0 = Ruleset(
        multipliers=(
            Multiplier(
                name="tier0-db",
                percent=150,
                matchers=(LabelMatcher(name="service", op=MatchOp.EQ, value="db"),),
            ),
        )
    )
    s = scenario().when(trigger(0, severity=Severity.ERROR, rules=tier0))
    scored = s.the(alert.AlertTriggered)
    assert scored.score == 75
    assert [f.name for f in scored.factors] == ["severity", "multiplier:tier0-db"]
    assert scored.priority is Priority.P2


def test_flapping_is_detected_holds_notifications_and_clears_after_the_window() -> None:
    quick = Ruleset(flap_threshold=4, flap_window_ms=30 * MIN * 1000)
    s = scenario().given(
        trigger(0, rules=quick, severity=Severity.CRITICAL),
        resolve(60, rules=quick),
        trigger(120, rules=quick, severity=Severity.CRITICAL),
    )
    s.when(resolve(180, rules=quick))
    s.then_includes(alert.FlappingStarted)
    s.when(trigger(240, rules=quick, severity=Severity.CRITICAL))
    assert s.state.flapping
    s.then_includes(alert.NotificationSuppressed).then_excludes(alert.NotificationRequested)
    assert s.the(alert.NotificationSuppressed).because == "flapping"
    s.when(tick(240 + 31 * MIN, rules=quick))
    s.then_includes(alert.FlappingCleared)
    assert not s.state.flapping


def test_a_silence_stops_notifications_but_never_state_changes_and_is_named() -> None:
    window = Silence(
        silence_id="maint-1",
        matchers=(LabelMatcher(name="service", op=MatchOp.EQ, value="db"),),
        starts_at=make_signal(action=Action.TRIGGER, offset_s=0).occurred_at,
        ends_at=make_signal(action=Action.TRIGGER, offset_s=3600).occurred_at,
    )
    s = scenario().when(trigger(10, severity=Severity.CRITICAL, silences=(window,)))
    s.then_includes(alert.AlertTriggered, alert.AlertSilenced, alert.NotificationSuppressed)
    s.then_excludes(alert.NotificationRequested)
    assert s.the(alert.AlertSilenced).silence_ids == ("maint-1",)
    s.when(resolve(20, silences=(window,)))
    assert s.state.status is Status.RESOLVED  # a maintenance window never swallows a resolve


def test_an_unacknowledged_p2_escalates_once_after_escalate_after() -> None:
    s = scenario().given(trigger(0, severity=Severity.CRITICAL))
    s.when(tick(14 * MIN)).then_kinds()
    s.when(tick(15 * MIN)).then_kinds(alert.EscalationDue, alert.NotificationRequested)
    assert s.the(alert.NotificationRequested).reason == "escalation"
    s.when(tick(30 * MIN)).then_kinds()


def test_an_acknowledged_alert_does_not_escalate() -> None:
    s = scenario().given(trigger(0, severity=Severity.CRITICAL), ack(60))
    s.when(tick(60 * MIN)).then_kinds()


def test_a_priority_raise_while_triggered_pages_again() -> None:
    s = scenario().given(trigger(0, severity=Severity.WARNING))
    s.when(trigger(60, severity=Severity.CRITICAL))
    assert s.the(alert.AlertScored).priority_changed
    assert s.the(alert.NotificationRequested).reason == "priority_raised"


def test_resolving_a_notified_alert_sends_a_resolved_notification() -> None:
    s = scenario().given(trigger(0, severity=Severity.CRITICAL)).when(resolve(60))
    s.then_includes(alert.AlertResolved)
    assert s.the(alert.NotificationRequested).reason == "resolved"


def test_every_decision_names_the_ruleset_version_that_produced_it() -> None:
    v3 = Ruleset(version=3)
    s = scenario().when(trigger(0, severity=Severity.CRITICAL, rules=v3))
    assert s.the(alert.AlertTriggered).ruleset_version == 3
    assert s.the(alert.NotificationRequested).ruleset_version == 3
    s.when(trigger(60, severity=Severity.WARNING, rules=Ruleset(version=4)))
    assert s.the(alert.AlertScored).ruleset_version == 4


# --------------------------------------------------------------------------- content identity
# A PagerDuty event without payload.timestamp (Alertmanager's pagerduty receiver never sends
# one) is identified by its content: its copies share one signal id, each copy's occurred_at
# being when it was received.


def copy(at_s: int, *, ms: int = 0, action: Action = Action.TRIGGER, **kw) -> alert.IngestSignal:
    source = kw.pop("source", "pagerduty")
    return alert.IngestSignal(
        signal=make_signal(
            action=action,
            offset_s=at_s,
            offset_ms=ms,
            untimed=True,
            source=source,
            severity=kw.pop("severity", Severity.ERROR),
            **kw,
        ),
        ruleset=RULES,
    )


def test_an_ha_pairs_second_copy_adds_no_occurrence_and_no_score() -> None:
    """Two copies 200 ms apart are one signal: one occurrence, score 50 (not 52)."""
    s = scenario().given(copy(0)).when(copy(0, ms=200))
    s.then_kinds(alert.SignalRepeated)
    assert s.state.episode.occurrences == 1
    assert s.state.score == 50


def test_a_resend_while_the_episode_is_open_adds_no_occurrence() -> None:
    """Alertmanager's repeat_interval resends the same notification hours later."""
    s = scenario().given(copy(0), copy(0, ms=200)).when(copy(4 * 3600))
    s.then_kinds(alert.SignalRepeated)
    assert s.state.episode.occurrences == 1
    assert s.state.episode.last_signal_at == s.decided[0].signal.occurred_at


def test_other_content_in_the_open_episode_is_another_occurrence() -> None:
    """A changed summary ("[FIRING:2] …") is news, not a copy."""
    s = scenario().given(copy(0)).when(copy(60, summary="disk 95% full"))
    s.then_includes(alert.SignalAccepted, alert.AlertScored)
    assert s.state.episode.occurrences == 2


def test_content_seen_earlier_in_the_episode_is_no_occurrence_but_the_latest_summary() -> None:
    """An Alertmanager group goes from one alert to two and back: the third notification
    repeats the first (no occurrence), and its summary is the current one again."""
    s = scenario().given(copy(0), copy(300, summary="disk 95% full")).when(copy(600))
    s.then_includes(alert.SignalRepeated)
    assert s.state.episode.occurrences == 2
    assert s.state.episode.summary == "disk full"


def test_the_same_content_after_a_resolve_opens_a_new_episode() -> None:
    s = scenario().given(copy(0), copy(0, ms=200), copy(600, action=Action.RESOLVE))
    first_episode = s.state.episode.episode_id
    s.when(copy(3600))
    s.then_includes(alert.SignalAccepted, alert.AlertReopened, alert.NotificationRequested)
    assert s.state.episode.number == 2
    assert s.state.episode.occurrences == 1
    assert s.state.episode.episode_id != first_episode


def test_copies_of_a_resolve_resolve_once() -> None:
    s = scenario().given(copy(0), copy(600, action=Action.RESOLVE))
    s.when(copy(600, ms=200, action=Action.RESOLVE))
    s.then_kinds(alert.SignalRepeated)
    assert s.state.status is Status.RESOLVED
    assert (
        s.state.episode.resolved_at == make_signal(action=Action.RESOLVE, offset_s=600).occurred_at
    )


def test_the_earlier_copy_arriving_second_moves_the_start_but_keeps_the_episode() -> None:
    """Copies can be processed out of order: the episode starts at the earlier one, and stays
    the same episode (no new notification, no rescore)."""
    s = scenario().given(copy(0, ms=200)).when(copy(0))
    s.then_kinds(alert.SignalAccepted, alert.SignalLate)
    assert s.state.episode.started_at == make_signal(action=Action.TRIGGER, offset_s=0).occurred_at
    assert s.state.episode.occurrences == 1
    assert s.state.score == 50


def test_a_late_resolve_between_two_copies_splits_them_into_two_episodes() -> None:
    """The copy after the resolve is a trigger after a resolve, whenever the resolve arrives."""
    s = scenario().given(copy(0), copy(3600)).when(copy(600, action=Action.RESOLVE))
    s.then_includes(alert.AlertResolved, alert.AlertReopened)
    assert s.state.episode.number == 2
    assert s.state.status is Status.TRIGGERED


# --------------------------------------------------------------------------- never triggered


def test_an_acknowledge_for_an_alert_never_triggered_is_ignored_with_a_reason() -> None:
    """PagerDuty drops it; Helios records why, and no alert comes of it."""
    s = scenario().when(ack(60))
    s.then_kinds(alert.SignalIgnored)
    assert s.the(alert.SignalIgnored).reason == "never_triggered"
    assert s.state.status is None


def test_a_resolve_for_an_alert_never_triggered_is_ignored_and_so_are_its_copies() -> None:
    s = (
        scenario()
        .given(copy(60, action=Action.RESOLVE))
        .when(copy(60, ms=150, action=Action.RESOLVE))
    )
    s.then_kinds(alert.SignalIgnored)
    s.when(copy(60, action=Action.RESOLVE))
    s.then_kinds(alert.SignalDeduplicated)


def test_an_ignored_resolve_still_resolves_the_trigger_it_overtook() -> None:
    """Ignored is not forgotten: when the earlier trigger arrives, the resolve places."""
    s = scenario().given(resolve(120)).when(trigger(0))
    s.then_includes(alert.AlertTriggered, alert.AlertResolved)
    assert s.state.status is Status.RESOLVED


def test_engine_version_1_accepted_an_acknowledge_for_an_alert_never_triggered() -> None:
    """History decided before the change replays as it was recorded."""
    legacy = msgspec.structs.replace(ack(60), engine_version=versions.LEGACY)
    s = scenario().when(legacy)
    s.then_kinds(alert.SignalAccepted)


def test_the_same_episode_scores_by_each_ruleset_it_is_decided_under() -> None:
    """Scores are remembered per ruleset: a new multiplier rescores the next signal at once,
    and going back to the first ruleset scores as that one did."""
    tier0 = Ruleset(
        version=2,
        multipliers=(
            Multiplier(
                name="tier0-db",
                percent=150,
                matchers=(LabelMatcher(name="service", op=MatchOp.EQ, value="db"),),
            ),
        ),
    )
    s = (
        scenario()
        .given(trigger(0, severity=Severity.ERROR))
        .when(trigger(60, severity=Severity.ERROR, rules=tier0))
    )
    assert s.the(alert.AlertScored).score == 50 * 150 // 100 + 2
    s = s.when(trigger(120, severity=Severity.ERROR))
    assert s.the(alert.AlertScored).score == 50 + 4
