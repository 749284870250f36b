"""A signal id hashed from parts encoded once (a source's facts keep them) is the id
``identity.signal_id`` hashes: for any texts, a lone surrogate or a part of 256 bytes or more
included, and any time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helios.domain import identity
from helios.domain.values import Action, Severity

_TEXTS = st.text(st.characters(codec=None), max_size=12) | st.sampled_from(
    ["", "\ud800", "a\udfff", "é😀" * 70, "k" * 255, "k" * 256, "€" * 90]
)


@settings(max_examples=300)
@given(
    tenant=_TEXTS,
    source=_TEXTS,
    dedup_key=_TEXTS,
    action=st.sampled_from(list(Action)),
    occurred_at=st.integers() | st.integers(min_value=10**255, max_value=10**300),
    severity=st.sampled_from(list(Severity)),
    summary=_TEXTS,
    labels=st.lists(st.tuples(_TEXTS, _TEXTS), max_size=4).map(lambda pairs: tuple(sorted(pairs))),
)
def test_a_timed_id_from_its_parts_is_the_signal_id(  # noqa: PLR0917 -- hypothesis's draws
    tenant, source, dedup_key, action, occurred_at, severity, summary, labels
):
    expected = identity.signal_id(
        tenant=tenant,
        source=source,
        dedup_key=dedup_key,
        action=action,
        occurred_at=occurred_at,
        severity=severity,
        summary=summary,
        labels=labels,
    )

    head = identity.observation_head(tenant, source, dedup_key, action)
    tail = identity.observation_tail(severity, summary, labels)
    assert identity.timed_signal_id(head, occurred_at, tail) == expected
