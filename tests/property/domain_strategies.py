"""Hypothesis strategies for domain values: signals of a few alerts, rulesets, scenarios."""

from __future__ import annotations

import msgspec
from hypothesis import strategies as st

from helios.domain.identity import content_signal_id, is_content_id, signal_id
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
    untimed: bool = False,
    offset_ms: int = 0,
) -> Signal:
    """A signal; ``untimed`` makes it one without a source timestamp (a PagerDuty event from
    Alertmanager): identified by its content, ``occurred_at`` being when it was received."""
    occurred_at = T0 + offset_s * 1000 + offset_ms
    labels = tuple(sorted({("service", service), ("alertname", dedup_key), *extra_labels}))
    if untimed:
        sid = content_signal_id(
            tenant=tenant,
            source=source,
            dedup_key=dedup_key,
            action=action,
            severity=severity,
            summary=summary,
            labels=labels,
            service=service,
        )
    else:
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
        received_at=occurred_at if untimed else occurred_at + 500,
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
        untimed=draw(st.integers(0, 3)) == 0,
    )


def copy_of(signal: Signal, offset_ms: int) -> Signal:
    """Another delivery of a timestamp-less signal, received ``offset_ms`` later (or earlier):
    the other member of an HA pair, or a resend. A timed signal's copy is itself."""
    if not is_content_id(signal.signal_id):
        return signal
    at = signal.occurred_at + offset_ms
    return msgspec.structs.replace(signal, occurred_at=at, received_at=at)


@st.composite
def with_copies(draw: st.DrawFn, distinct: list[Signal]) -> list[Signal]:
    """``distinct`` plus copies of some of its timestamp-less signals at other times, each
    delivery once (a copy at the same millisecond would be a duplicate, not a copy)."""
    deliveries = {(s.signal_id, s.occurred_at): s for s in distinct}
    for signal in draw(st.lists(st.sampled_from(distinct), max_size=6), label="copied"):
        offset = draw(st.integers(min_value=-600_000, max_value=600_000), label="copy offset")
        copy = copy_of(signal, offset)
        deliveries.setdefault((copy.signal_id, copy.occurred_at), copy)
    return list(deliveries.values())


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
    # Signals drawn here span under two hours: the laws that hold inside the lateness horizon
    # are stated over them (``test_horizon`` draws horizons they overflow).
    lateness_horizon_ms=st.just(3 * 3_600_000),
)
