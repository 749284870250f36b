"""Law 6 (tenant isolation), at the core: nothing decided for tenant A lands in B's streams."""

from __future__ import annotations

from domain_strategies import signals
from hypothesis import given
from hypothesis import strategies as st

from helios.domain import alert, engine, incident
from helios.domain.ruleset import Ruleset
from helios.domain.values import Signal

both_tenants = st.lists(
    st.one_of(
        signals(tenant="tenant-a", keys=("k1", "k2")), signals(tenant="tenant-b", keys=("k1", "k2"))
    ),
    max_size=20,
)


def process(batch: list[Signal]) -> engine.Working:
    context = engine.TenantContext(ruleset=Ruleset())
    working = engine.Working(alerts={}, groups={})
    for signal in batch:
        missing = engine.apply_signal(working, signal, context)
        if missing is not None:
            for group in missing.groups:
                working.groups[group] = incident.initial_state(*group)
            assert engine.apply_signal(working, signal, context) is None
    return working


@given(batch=both_tenants)
def test_a_tenants_signals_only_touch_its_own_streams(batch: list[Signal]) -> None:
    """The same dedup keys in two tenants are two alerts; B's events do not depend on A's."""
    only_b = [s for s in batch if s.tenant == "tenant-b"]
    mixed = process(batch)
    alone = process(only_b)

    b_streams = set(alone.events)
    for (tenant, _key), state in mixed.alerts.items():
        assert state.tenant == tenant
        assert all(signal.tenant == tenant for signal in state.signals)
    for (tenant, _), group in mixed.groups.items():
        assert group.tenant == tenant
    # B's streams hold exactly what B alone would have produced: A changed nothing of B's.
    assert {s: mixed.events[s] for s in b_streams} == alone.events
    a_streams = set(mixed.events) - b_streams
    own_a = {alert.alert_stream_id(t, k) for t, k in mixed.alerts if t == "tenant-a"} | {
        incident.group_stream_id(t, g) for t, g in mixed.groups if t == "tenant-a"
    }
    assert a_streams <= own_a


def test_the_same_dedup_key_in_two_tenants_names_two_streams() -> None:
    assert alert.alert_stream_id("tenant-a", "k1") != alert.alert_stream_id("tenant-b", "k1")
    assert incident.group_stream_id("tenant-a", "service=db") != incident.group_stream_id(
        "tenant-b", "service=db"
    )
