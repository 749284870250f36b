"""A time is written the same way however often its second was written before.

``format_rfc3339`` remembers the text of recent seconds; every time it writes must be the
calendar's own (``datetime``), from the year 1 to 9999, and the API's times (``rfc3339``,
once a float division) must read back to the very millisecond they were made from.
"""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from helios.apps.http.query.context import rfc3339
from helios.domain.timestamps import format_rfc3339, parse_rfc3339

_FIRST = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
_LAST = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _calendar(millis: int) -> str:
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        milliseconds=millis
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + f".{millis % 1000:03d}Z"


@given(st.lists(st.integers(_FIRST, _LAST), min_size=1, max_size=20), st.integers(0, 2_000))
def test_a_time_is_written_as_the_calendar_says_whatever_was_written_before(
    moments: list[int], near: int
) -> None:
    # The same seconds again and again (remembered), and times a few ms apart (one second's text).
    for millis in [*moments, *moments, *(m + near for m in moments if m + near <= _LAST)]:
        assert format_rfc3339(millis) == _calendar(millis)


@given(st.integers(1, _LAST))
def test_an_api_time_reads_back_to_its_millisecond(millis: int) -> None:
    text = rfc3339(millis)
    assert text is not None
    assert parse_rfc3339(text) == millis


def test_no_time_is_written_for_an_unset_one() -> None:
    assert rfc3339(None) is None
    assert rfc3339(0) is None
