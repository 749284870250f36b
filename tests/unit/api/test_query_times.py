"""Times people type into the API (``since``, ``until``, a silence's window) parse as the domain
parses every timestamp, and must say which zone they mean."""

from __future__ import annotations

import pytest

from helios.apps.http.errors import InvalidBody, InvalidQuery
from helios.apps.http.query.context import parse_time, query_time
from helios.domain.timestamps import format_rfc3339, parse_rfc3339


@pytest.mark.parametrize(
    "millis",
    [0, 1_714_566_896_003, 70_262_315_826_648, 138_175_930_508_076, -1, -62_135_596_800_000],
)
def test_a_time_parameter_is_exact_to_the_millisecond(millis: int) -> None:
    """A float round trip would lose a millisecond of some of these (4196-07-10T05:57:06.648Z)."""
    assert query_time("since", format_rfc3339(millis)) == millis


@pytest.mark.parametrize(
    "text",
    ["2024-05-01T12:34:56Z", "2024-05-01T12:34:56.5+02:00", "2024-05-01 12:34:56-0130"],
)
def test_a_time_parameter_means_what_the_domain_parser_says(text: str) -> None:
    """One definition of the format: the API agrees with the normalizers' parser."""
    assert parse_time("starts_at", text) == parse_rfc3339(text)


@pytest.mark.parametrize("text", ["2024-05-01T12:34:56", "2024-05-01", "yesterday", "12:00Z"])
def test_a_time_without_a_zone_or_not_a_time_is_refused_naming_the_parameter(text: str) -> None:
    with pytest.raises(InvalidQuery) as refused:
        query_time("until", text)
    assert [error.field for error in refused.value.errors] == ["until"]
    with pytest.raises(InvalidBody) as refused_body:
        parse_time("ends_at", text)
    assert [error.field for error in refused_body.value.errors] == ["ends_at"]


def test_an_absent_time_parameter_is_none() -> None:
    assert query_time("since", None) is None
    assert query_time("since", "") is None
