"""The usual shape of a timestamp is read without the pattern, to the same result.

``parse_rfc3339`` reads ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (what Alertmanager, Grafana and
PagerDuty clients send) by a shorter route; every time it gives, and every text it refuses with
its message, must be what the pattern gives, or signal ids would change.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helios.domain import timestamps
from helios.domain.timestamps import TimestampError

_DIGIT = st.sampled_from("0123456789") | st.sampled_from(["٣", "²", "0"])
_TIME_SHAPED = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, tz: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{tz}",
    st.text(_DIGIT, min_size=4, max_size=4) | st.sampled_from(["2026", "0000", "0001", "9999"]),
    st.text(_DIGIT, min_size=2, max_size=2) | st.sampled_from(["01", "02", "12", "13"]),
    st.text(_DIGIT, min_size=2, max_size=2) | st.sampled_from(["28", "29", "30", "31", "32"]),
    st.sampled_from(["T", "t", " ", "_"]),
    st.text(_DIGIT, min_size=2, max_size=2) | st.sampled_from(["00", "23", "24"]),
    st.text(_DIGIT, min_size=2, max_size=2) | st.sampled_from(["00", "59", "60"]),
    st.text(_DIGIT, min_size=2, max_size=2) | st.sampled_from(["00", "59", "60", "99"]),
    st.just("") | st.text(_DIGIT, max_size=14).map(lambda digits: "." + digits),
    st.sampled_from(["Z", "z", "", "+00:00", "-0130", "Z ", "ZZ"]),
)


_USUAL = st.builds(
    lambda y, mo, d, h, mi, s, frac, tz: (
        f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{tz}"
    ),
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 61),
    st.just("") | st.text("0123456789", max_size=13).map(lambda digits: "." + digits),
    st.sampled_from(["Z", "z"]),
)
"""The usual shape, each part at and around its limits."""


def _outcome(parse: object, text: str) -> tuple[str, object]:
    try:
        return "time", parse(text)  # type: ignore[operator]
    except TimestampError as error:
        return "refused", str(error)


@settings(max_examples=500)
@given(text=_USUAL | _TIME_SHAPED | st.text(max_size=40))
def test_a_timestamp_reads_as_the_pattern_reads_it(text):
    assert _outcome(timestamps.parse_rfc3339.__wrapped__, text) == _outcome(
        timestamps.parse_by_pattern, text
    )
