"""What the ingestion edge accepts, the worker normalizes: no field-level quarantine after a 202.

The edge runs the source's shape checks and then the worker's normalizer on the envelope it is
about to enqueue (``helios.apps.http.shapes``). The worker normalizes that envelope later, under
another ingest id and the tenant's ruleset of the moment, which the edge does not know: for
any body, time and headers it accepts, no ruleset may reject what it accepted.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import Phase, event, find, given, settings
from hypothesis import strategies as st
from payload_strategies import bodies, headers, normalization_rulesets, received_ats

from helios.apps.http import shapes
from helios.apps.http.errors import InvalidBody
from helios.domain.normalize import Rejected, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, SourceKind

EDGE_SOURCES = [kind for kind in SourceKind if kind is not SourceKind.USER]


def _envelope(
    source: SourceKind,
    body: bytes,
    received_at: int,
    kept: tuple[tuple[str, str], ...],
    ingest_id: str,
) -> Envelope:
    return Envelope(
        ingest_id=ingest_id,
        tenant="ten_1",
        integration="int_1",
        source=source,
        received_at=received_at,
        body=body,
        headers=kept,
    )


def edge_accepts(envelope: Envelope) -> bool:
    """The checks the ingestion routes make on a body, in their order (credentials aside)."""
    try:
        document = shapes.decode_object(envelope.body)
        if envelope.source is SourceKind.PAGERDUTY:
            shapes.check_pagerduty(document)
        elif envelope.source is SourceKind.PAGERDUTY_CHANGE:
            shapes.check_pagerduty_change(document)
        else:
            shapes.check_source(envelope.source, document)
        shapes.check_normalizes(envelope)
    except InvalidBody:
        return False
    return True


@st.composite
def deliveries(draw: st.DrawFn, kind: SourceKind) -> tuple[Envelope, Envelope]:
    """The envelope the edge checks and the one the worker normalizes, for one request."""
    body = draw(bodies(kind))
    received_at = draw(received_ats)
    kept = draw(headers)
    checked = _envelope(kind, body, received_at, kept, "edge-check")
    enqueued = _envelope(kind, body, received_at, kept, draw(st.uuids()).hex)
    return checked, enqueued


@pytest.mark.parametrize("source", EDGE_SOURCES, ids=lambda kind: kind.value)
@given(data=st.data(), ruleset=normalization_rulesets)
def test_a_body_the_edge_accepts_is_never_quarantined_by_the_worker(
    source: SourceKind, data: st.DataObject, ruleset: Ruleset
) -> None:
    """Whatever the body, time and headers, and whatever the tenant's rules."""
    checked, enqueued = data.draw(deliveries(source))
    accepted = edge_accepts(checked)
    event("accepted" if accepted else "refused")
    if accepted:
        result = normalize(enqueued, ruleset, decode=orjson.loads)
        assert not isinstance(result, Rejected), result


@pytest.mark.parametrize("source", EDGE_SOURCES, ids=lambda kind: kind.value)
@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "refused"])
def test_the_generated_bodies_fall_on_both_sides_of_the_edge(
    source: SourceKind, accepted: bool
) -> None:
    """The property above is not vacuous: each source has bodies the edge accepts and refuses."""
    found: Any = find(
        deliveries(source),
        lambda delivery: edge_accepts(delivery[0]) is accepted,
        settings=settings(phases=[Phase.generate], database=None),  # any will do: no shrinking
    )
    assert edge_accepts(found[0]) is accepted
