"""Incident grouping, rulesets and silences, as rules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from decider_dsl import Scenario

from helios.domain import incident, ruleset_stream, silence
from helios.domain.errors import CommandRejected
from helios.domain.ruleset import LabelMatcher, MatchOp, Ruleset
from helios.domain.values import NotificationReason, Priority, Status


def group() -> Scenario:
    return Scenario(
        decide=incident.decide,
        evolve=incident.evolve,
        state=incident.initial_state("t1", "service=db"),
    )


def track(
    key: str, change: str, status: Status, priority: Priority | None = Priority.P3, at: int = 0
):
    return incident.TrackAlert(
        dedup_key=key, change=incident.AlertChange(change), status=status, priority=priority, at=at
    )


def test_the_first_alert_of_a_group_opens_an_incident_and_joins_it() -> None:
    s = group().when(track("a", "opened", Status.TRIGGERED))
    s.then_kinds(
        incident.IncidentOpened, incident.IncidentAlertJoined, incident.IncidentPriorityChanged
    )


def test_a_second_alert_joins_the_open_incident() -> None:
    s = (
        group()
        .given(track("a", "opened", Status.TRIGGERED))
        .when(track("b", "opened", Status.TRIGGERED))
    )
    s.then_kinds(incident.IncidentAlertJoined)
    assert {m.dedup_key for m in s.state.open.members} == {"a", "b"}


def test_the_incident_priority_is_the_highest_of_its_alerts() -> None:
    s = group().given(track("a", "opened", Status.TRIGGERED, Priority.P3))
    s.when(track("b", "opened", Status.TRIGGERED, Priority.P1))
    assert s.state.open.priority is Priority.P1
    assert s.the(incident.IncidentPriorityChanged).priority is Priority.P1


def test_an_incident_resolves_when_all_its_alerts_are_resolved() -> None:
    s = group().given(
        track("a", "opened", Status.TRIGGERED), track("b", "opened", Status.TRIGGERED)
    )
    s.when(track("a", "resolved", Status.RESOLVED)).then_excludes(incident.IncidentResolved)
    s.when(track("b", "resolved", Status.RESOLVED)).then_includes(incident.IncidentResolved)
    assert s.state.open is None


def test_a_resolved_incident_is_closed_and_a_new_episode_opens_a_new_incident() -> None:
    s = group().given(
        track("a", "opened", Status.TRIGGERED), track("a", "resolved", Status.RESOLVED)
    )
    first = incident.incident_id_for("t1", "service=db", 1)
    s.when(track("a", "opened", Status.TRIGGERED))
    opened = s.the(incident.IncidentOpened)
    assert opened.number == 2
    assert opened.incident_id != first


def test_acknowledgements_and_notifications_go_on_the_timeline() -> None:
    s = group().given(track("a", "opened", Status.TRIGGERED))
    s.when(track("a", "acknowledged", Status.ACKNOWLEDGED)).then_kinds(
        incident.IncidentAlertChanged
    )
    s.when(
        incident.RecordNotification(
            dedup_key="a", notification_id="n1", reason=NotificationReason.TRIGGERED, at=5
        )
    )
    s.then_kinds(incident.IncidentNotified)


def test_a_resolve_for_an_alert_of_no_open_incident_changes_nothing() -> None:
    group().when(track("a", "resolved", Status.RESOLVED)).then_kinds()


def rules() -> Scenario:
    return Scenario(
        decide=ruleset_stream.decide,
        evolve=ruleset_stream.evolve,
        state=ruleset_stream.initial_state("t1"),
    )


def test_rulesets_are_published_in_version_order() -> None:
    s = rules().when(ruleset_stream.PublishRuleset(ruleset=Ruleset(version=1), at=0))
    s.then_kinds(ruleset_stream.RulesetPublished)
    with pytest.raises(CommandRejected) as rejected:
        s.when(ruleset_stream.PublishRuleset(ruleset=Ruleset(version=3), at=1))
    assert ("version", "must be 2, the next version") in rejected.value.problems


def test_an_invalid_ruleset_is_refused_naming_each_field() -> None:
    bad = Ruleset(version=1, flap_threshold=1, group_by=(), key_labels=("9bad",))
    with pytest.raises(CommandRejected) as rejected:
        rules().when(ruleset_stream.PublishRuleset(ruleset=bad, at=0))
    fields = {field for field, _ in rejected.value.problems}
    assert {"flap_threshold", "group_by", "key_labels[0]"} <= fields


def silences() -> Scenario:
    return Scenario(decide=silence.decide, evolve=silence.evolve, state=silence.initial_state("t1"))


def a_silence(sid: str = "s1", ends_at: int = 100, regex: str = "db") -> silence.Silence:
    return silence.Silence(
        silence_id=sid,
        matchers=(LabelMatcher(name="service", op=MatchOp.RE, value=regex),),
        starts_at=0,
        ends_at=ends_at,
    )


def test_a_silence_with_a_bad_regex_or_an_empty_window_is_refused() -> None:
    with pytest.raises(CommandRejected) as rejected:
        silences().when(silence.CreateSilence(silence=a_silence(ends_at=0, regex="("), at=0))
    fields = {field for field, _ in rejected.value.problems}
    assert fields == {"ends_at", "matchers[0].value"}


def test_expiring_a_silence_ends_its_window_early() -> None:
    s = silences().given(silence.CreateSilence(silence=a_silence(), at=0))
    s.when(silence.ExpireSilence(silence_id="s1", at=40)).then_kinds(silence.SilenceExpired)
    assert s.state.get("s1").ends_at == 40
    assert not s.state.get("s1").silences((("service", "db"),), 50)
    assert s.state.get("s1").silences((("service", "db"),), 39)
