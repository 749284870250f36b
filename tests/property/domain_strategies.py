"""Hypothesis strategies for domain values: signals of a few alerts, rulesets, scenarios."""

from __future__ import annotations

from hypothesis import strategies as st

from helios.domain.identity import signal_id
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset
from helios.domain.values import Action, Severity, Signal

T0 = 1_700_000_000_000
SOURCES = ("alertmanager", "grafana", "pagerduty", "user:u1")
SERVICES = ("db", "api", "web")

actions = st.sampled_from(list(Action))
severities = st.sampled_from(list(Severity))


def make_signal(
    *,
    tenant: str = "t1",
    dedup_key: str = "k1",
    action: Action,
    offset_s: int,
    severity: Severity = Severity.WARNING,
    source: str = "alertmanager",
    service: str = "db",
    summary: str = "disk full",
    extra_labels: tuple[tuple[str, str], ...] = (),
) -> Signal:
    occurred_at = T0 + offset_s * 1000
    labels = tuple(sorted({("service", service), ("alertname", dedup_key), *extra_labels}))
    sid = signal_id(
        tenant=tenant,
        source=source,
        dedup_key=dedup_key,
        action=action,
        occurred_at=occurred_at,
        severity=severity,
        summary=summary,
        labels=labels,
    )
    return Signal(
        signal_id=sid,
        tenant=tenant,
        integration="int-1",
        source=source,
        dedup_key=dedup_key,
        action=action,
        severity=severity,
        summary=summary,
        occurred_at=occurred_at,
        received_at=occurred_at + 500,
        service=service,
        labels=labels,
    )


@st.composite
def signals(draw: st.DrawFn, *, tenant: str = "t1", keys: tuple[str, ...] = ("k1",)) -> Signal:
    """A signal for one of a few alerts, times within ~1 hour so episodes and flapping mix."""
    return make_signal(
        tenant=tenant,
        dedup_key=draw(st.sampled_from(keys)),
        action=draw(actions),
        offset_s=draw(st.integers(min_value=0, max_value=3600)),
        severity=draw(severities),
        source=draw(st.sampled_from(SOURCES)),
        service=draw(st.sampled_from(SERVICES)),
        summary=draw(st.sampled_from(("disk full", "disk 95% full", "replica lag"))),
    )


matchers = st.builds(
    LabelMatcher,
    name=st.sampled_from(("service", "alertname", "team")),
    op=st.sampled_from(list(MatchOp)),
    value=st.sampled_from(("db", "api", "k1", "d.*", ".*")),
)

multipliers = st.builds(
    Multiplier,
    name=st.sampled_from(("tier0", "db", "night", "vip")),
    percent=st.integers(min_value=0, max_value=400),
    matchers=st.lists(matchers, max_size=2).map(tuple),
    service=st.one_of(st.none(), st.sampled_from(SERVICES)),
)

rulesets = st.builds(
    Ruleset,
    multipliers=st.lists(multipliers, max_size=3).map(tuple),
    recurrence_points=st.integers(min_value=0, max_value=5),
    recurrence_cap=st.integers(min_value=0, max_value=20),
    flapping_penalty=st.integers(min_value=0, max_value=30),
    flap_threshold=st.integers(min_value=2, max_value=6),
)
