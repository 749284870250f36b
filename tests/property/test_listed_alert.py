"""A list page writes each alert's stored JSON columns into the response as they are
(``ListedAlert``): it must say what ``AlertSummary``, the documented shape, says of the same row.
"""

from __future__ import annotations

import json

import msgspec
import orjson
from hypothesis import given
from hypothesis import strategies as st

from helios.apps.http.query import documents as doc
from helios.apps.http.query.alerts import alert_summary, listed_alert
from helios.apps.views import alerts
from helios.domain.normalize.common import canonical_json

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_MILLIS = st.integers(min_value=0, max_value=4_102_444_800_000)


def _details(value: object, *, by_json: bool) -> str:
    """Details as the normalizers store them: canonical msgspec JSON, or the json module's
    for the few values msgspec writes apart (``common.canonical_json``)."""
    if by_json:
        return json.dumps(
            {"value": value}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
    return canonical_json({"value": value}).decode()


@st.composite
def _rows(draw: st.DrawFn) -> alerts.AlertRow:
    labels = draw(st.dictionaries(_TEXT, _TEXT, max_size=6))
    # As the projector writes them: href, then text.
    links = [{"href": h, "text": t} for h, t in draw(st.lists(st.tuples(_TEXT, _TEXT), max_size=2))]
    return alerts.AlertRow(
        tenant="t1",
        dedup_key=draw(_TEXT),
        stream_id=draw(st.uuids()).hex,
        status=draw(st.sampled_from(alerts.STATUSES)),
        priority=draw(st.none() | st.sampled_from(alerts.PRIORITIES)),
        score=draw(st.none() | st.integers(min_value=0, max_value=100)),
        factors="[]",
        severity=draw(st.sampled_from(["critical", "error", "warning", "info"])),
        summary=draw(_TEXT),
        service=draw(_TEXT),
        sources=orjson.dumps(draw(st.lists(_TEXT, max_size=3))).decode(),
        labels=orjson.dumps(labels).decode(),
        occurrences=draw(st.integers(min_value=0, max_value=10**6)),
        episode=draw(st.integers(min_value=0, max_value=1000)),
        duplicates=draw(st.integers(min_value=0, max_value=10**6)),
        flapping=draw(st.sampled_from([0, 1])),
        silenced=draw(st.sampled_from([0, 1])),
        group_key=draw(_TEXT),
        first_seen_at=draw(_MILLIS),
        last_signal_at=draw(_MILLIS),
        last_change_at=draw(st.none() | _MILLIS),
        position=draw(st.integers(min_value=1, max_value=2**40)),
        links=orjson.dumps(links).decode(),
        details=_details(draw(_JSON), by_json=draw(st.booleans())),
        incident_id=draw(st.none() | st.uuids().map(str)),
    )


def _names(struct: type[msgspec.Struct]) -> tuple[str, ...]:
    return tuple(field.encode_name for field in msgspec.structs.fields(struct))


def test_a_listed_alert_has_the_summarys_fields_in_its_order() -> None:
    assert _names(doc.ListedAlert) == _names(doc.AlertSummary)
    assert _names(doc.ListedPage) == _names(doc.AlertPage)


@given(rows=st.lists(_rows(), max_size=4), cursor=st.none() | _TEXT)
def test_a_listed_page_says_what_the_documented_page_says(
    rows: list[alerts.AlertRow], cursor: str | None
) -> None:
    listed = msgspec.json.encode(
        doc.ListedPage(items=[listed_alert(r) for r in rows], next_cursor=cursor)
    )
    documented = msgspec.json.encode(
        doc.AlertPage(items=[alert_summary(r) for r in rows], next_cursor=cursor)
    )
    # The same document; and the same bytes wherever the stored text is msgspec's own
    # (the json module writes some floats' exponents apart: 1e+16 where msgspec has 1e16).
    assert json.loads(listed) == json.loads(documented)
    if all(r.details == canonical_json(json.loads(r.details)).decode() for r in rows):
        assert listed == documented
