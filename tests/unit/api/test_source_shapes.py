"""The shape check of an Alertmanager or Grafana webhook names each bad alert's field, and
only those: a well-formed alert among them is passed over without a word."""

from __future__ import annotations

from typing import Any

import pytest

from helios.apps.http.errors import InvalidBody
from helios.apps.http.shapes import check_source
from helios.domain.values import SourceKind

GOOD = {"status": "firing", "labels": {"alertname": "Up"}}


def _named(alerts: list[Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidBody) as refused:
        check_source(SourceKind.ALERTMANAGER, {"alerts": alerts})
    return [(error.field, error.message) for error in refused.value.errors]


def test_well_formed_alerts_pass() -> None:
    check_source(SourceKind.ALERTMANAGER, {"alerts": [GOOD, {**GOOD, "status": "resolved"}]})
    check_source(SourceKind.GRAFANA, {"alerts": []})


@pytest.mark.parametrize(
    ("alert", "named"),
    [
        ("up", [("alerts[1]", "must be an object")]),
        ({**GOOD, "labels": ["a"]}, [("alerts[1].labels", "must be an object")]),
        ({"status": "firing"}, [("alerts[1].labels", "must be an object")]),
        ({**GOOD, "status": "pending"}, [("alerts[1].status", "must be firing or resolved")]),
        ({**GOOD, "status": ["firing"]}, [("alerts[1].status", "must be a string")]),
        ({**GOOD, "status": ""}, [("alerts[1].status", "is missing or blank")]),
        (
            {"labels": None},
            [
                ("alerts[1].labels", "must be an object"),
                ("alerts[1].status", "is missing or blank"),
            ],
        ),
    ],
)
def test_a_bad_alert_is_named_and_the_good_ones_around_it_are_not(
    alert: Any, named: list[tuple[str, str]]
) -> None:
    assert _named([GOOD, alert, GOOD]) == named
