"""The engine keeps the state a decider computed while deciding instead of evolving the
decisions again; for incident groups, that state must be exactly what evolving gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helios.domain import incident
from helios.domain.values import NotificationReason, Priority, Status

track = st.builds(
    incident.TrackAlert,
    dedup_key=st.sampled_from(["a", "b", "c", "d"]),
    change=st.sampled_from(list(incident.AlertChange)),
    status=st.sampled_from(list(Status)),
    priority=st.none() | st.sampled_from(list(Priority)),
    at=st.integers(min_value=0, max_value=10**6),
)
notify = st.builds(
    incident.RecordNotification,
    dedup_key=st.sampled_from(["a", "b", "z"]),
    notification_id=st.just("ntf-1"),
    reason=st.just(NotificationReason.TRIGGERED),
    at=st.integers(min_value=0, max_value=10**6),
)


@given(commands=st.lists(track | notify, max_size=30))
def test_the_state_decide_returns_is_the_state_its_decisions_lead_to(
    commands: list[incident.TrackAlert | incident.RecordNotification],
) -> None:
    state = incident.initial_state("t1", "service=checkout")
    for command in commands:
        decided, after = incident.decide_and_evolve(command, state)
        evolved = state
        for event in decided:
            evolved = incident.evolve(evolved, event)
        assert after == evolved
        if after.open is not None:
            # Equal maps may differ in order: the members' order (last changed last) too.
            assert evolved.open is not None
            assert list(after.open.by_key) == list(evolved.open.by_key)
            members = after.open.members
            assert after.open.unresolved == sum(m.status is not Status.RESOLVED for m in members)
            urgencies = [m.priority.urgency for m in members if m.priority is not None]
            expected = max(urgencies, default=0)
            assert (after.open.priority.urgency if after.open.priority else 0) == expected
        state = after
