"""The SNS replay window, without HTTP: ``Timestamp`` bounds and the setting that sets them."""

from __future__ import annotations

import pytest

from helios.apps.http import sns
from helios.apps.http.config import ApiConfig
from helios.apps.http.errors import InvalidBody, Unauthorized
from helios.domain.timestamps import format_rfc3339, parse_rfc3339

NOW_MS = parse_rfc3339("2026-12-01T12:00:00Z")


def check(published_ms: int) -> None:
    message = {"Timestamp": format_rfc3339(published_ms)}
    sns.check_fresh(message, now_ms=NOW_MS, max_age_s=3900, ahead_s=300)


@pytest.mark.parametrize("offset_ms", [0, -3_900_000, 300_000])
def test_a_message_within_the_window_passes_up_to_its_edges(offset_ms: int) -> None:
    """3,900 s old and 300 s ahead are both still fresh."""
    check(NOW_MS + offset_ms)


@pytest.mark.parametrize(
    ("offset_ms", "message"),
    [
        (-3_900_001, "is 3901 s old; messages older than 3900 s are refused"),
        (-86_400_000 * 600, "is 51840000 s old; messages older than 3900 s are refused"),
        (300_001, "is 301 s ahead of the API's clock (at most 300 s allowed)"),
    ],
)
def test_a_message_outside_the_window_is_refused_naming_its_timestamp(
    offset_ms: int, message: str
) -> None:
    """Stale or from the future: 401, with the field and the window in the answer."""
    with pytest.raises(Unauthorized) as refused:
        check(NOW_MS + offset_ms)
    [error] = refused.value.errors
    assert (error.field, error.message) == ("Timestamp", message)


@pytest.mark.parametrize("raw", ["", "yesterday", None, 1733054400])
def test_a_timestamp_that_is_not_a_time_is_a_400_naming_it(raw: object) -> None:
    """Never a 500."""
    with pytest.raises(InvalidBody) as refused:
        sns.check_fresh({"Timestamp": raw}, now_ms=NOW_MS, max_age_s=3900, ahead_s=300)
    assert [e.field for e in refused.value.errors] == ["Timestamp"]


def test_a_message_id_is_remembered_for_as_long_as_its_message_is_fresh() -> None:
    """From ``ahead_s`` before its Timestamp to ``max_age_s`` after."""
    assert sns.replay_window_ms(max_age_s=3900, ahead_s=300) == 4_200_000


def test_the_replay_window_is_read_from_the_environment() -> None:
    """HELIOS_API_SNS_MAX_AGE_S, 3,900 s by default; a bad value names the variable."""
    assert ApiConfig.from_env({}).sns_max_age_s == 3900
    assert ApiConfig.from_env({"HELIOS_API_SNS_MAX_AGE_S": "600"}).sns_max_age_s == 600
    with pytest.raises(ValueError, match="HELIOS_API_SNS_MAX_AGE_S"):
        ApiConfig.from_env({"HELIOS_API_SNS_MAX_AGE_S": "0"})


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_timestamp_beyond_the_calendar_edges_is_refused_as_outside_the_window(raw: str) -> None:
    """Parsable, but outside the years 1 to 9999 once its offset is applied: still a 401."""
    with pytest.raises(Unauthorized) as refused:
        sns.check_fresh({"Timestamp": raw}, now_ms=NOW_MS, max_age_s=3900, ahead_s=300)
    assert raw in refused.value.detail
