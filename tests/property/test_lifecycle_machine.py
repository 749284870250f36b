"""Law 7: the alert and incident state machines admit only the transitions of domain.md §4."""

from __future__ import annotations

from domain_strategies import make_signal
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from helios.domain import alert, engine, incident
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action, Severity, Signal, Status

KEYS = ("k1", "k2", "k3")

ALLOWED = {
    # (status before, decision) -> status after
    (None, alert.AlertTriggered): Status.TRIGGERED,
    (Status.RESOLVED, alert.AlertReopened): Status.TRIGGERED,
    (Status.TRIGGERED, alert.AlertAcknowledged): Status.ACKNOWLEDGED,
    (Status.TRIGGERED, alert.AlertResolved): Status.RESOLVED,
    (Status.ACKNOWLEDGED, alert.AlertResolved): Status.RESOLVED,
}


class Lifecycle(RuleBasedStateMachine):
    """Random signals (in order, late, duplicated) and ticks for three alerts of one group."""

    @initialize()
    def start(self) -> None:
        self.ruleset = Ruleset(group_by=("service",))
        self.context = engine.TenantContext(ruleset=self.ruleset)
        self.working = engine.Working(alerts={}, groups={})
        self.clock = 0
        self.sent: list[Signal] = []
        self.incidents_seen: set[str] = set()

    def _apply(self, signal: Signal) -> None:
        key = (signal.tenant, signal.dedup_key)
        before = self.working.alerts.get(key)
        before_status = before.status if before else None
        stream = alert.alert_stream_id(*key)
        done = len(self.working.events.get(stream, []))
        self._run(lambda w: engine.apply_signal(w, signal, self.context))
        status = before_status
        for event in self.working.events.get(stream, [])[done:]:
            kind = type(event)
            if kind in (
                alert.AlertTriggered,
                alert.AlertReopened,
                alert.AlertAcknowledged,
                alert.AlertResolved,
            ):
                assert (status, kind) in ALLOWED, f"{kind.__name__} from {status}"
                status = ALLOWED[(status, kind)]
        assert status == self.working.alerts[key].status
        self.sent.append(signal)

    @rule(
        key=st.sampled_from(KEYS),
        action=st.sampled_from(list(Action)),
        gap=st.integers(0, 120),
        severity=st.sampled_from(list(Severity)),
    )
    def signal_in_order(self, key: str, action: Action, gap: int, severity: Severity) -> None:
        self.clock += gap
        self._apply(
            make_signal(dedup_key=key, action=action, offset_s=self.clock, severity=severity)
        )

    @rule(key=st.sampled_from(KEYS), action=st.sampled_from(list(Action)), back=st.integers(1, 600))
    def late_signal(self, key: str, action: Action, back: int) -> None:
        self._apply(make_signal(dedup_key=key, action=action, offset_s=max(0, self.clock - back)))

    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        if self.sent:
            self._apply(data.draw(st.sampled_from(self.sent)))

    @rule(ahead=st.integers(0, 3600))
    def tick(self, ahead: int) -> None:
        at = make_signal(action=Action.TRIGGER, offset_s=self.clock + ahead).occurred_at
        for key in sorted(self.working.alerts):
            self._run(lambda w, k=key: engine.apply_tick(w, k, at, self.context))

    def _run(self, apply) -> None:  # type: ignore[no-untyped-def]
        missing = apply(self.working)
        if missing is not None:
            for group in missing.groups:
                self.working.groups[group] = incident.initial_state(*group)
            assert apply(self.working) is None

    @invariant()
    def incidents_follow_their_alerts(self) -> None:
        for group in self.working.groups.values():
            if group.open is None:
                continue
            # An open incident has at least one alert that is not resolved, and its priority
            # is the highest of its alerts'.
            assert any(m.status is not Status.RESOLVED for m in group.open.members)
            priorities = [m.priority for m in group.open.members if m.priority is not None]
            if priorities:
                assert group.open.priority == max(priorities, key=lambda p: p.urgency)
            for member in group.open.members:
                state = self.working.alerts[("t1", member.dedup_key)]
                assert member.status == state.status

    @invariant()
    def a_resolved_incident_is_never_reopened(self) -> None:
        for group_stream in self.working.events.values():
            closed: set[str] = set()
            for e in group_stream:
                if isinstance(e, incident.IncidentResolved):
                    closed.add(e.incident_id)
                elif isinstance(e, incident.IncidentAlertJoined | incident.IncidentAlertChanged):
                    assert e.incident_id not in closed, "an alert joined a resolved incident"


Lifecycle.TestCase.settings = settings(Lifecycle.TestCase.settings, stateful_step_count=25)
TestLifecycle = Lifecycle.TestCase
