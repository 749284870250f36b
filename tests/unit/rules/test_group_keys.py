"""An alert's incident group key names each ``group_by`` field with its value: the service
from the alert's service (else its ``service`` label), any other field from its labels."""

from __future__ import annotations

from helios.domain.ruleset import Ruleset

LABELS = (("cluster", "eu-1"), ("service", "from-label"), ("team", "db"))


def test_the_default_group_is_the_alerts_service() -> None:
    assert Ruleset().group_key("checkout", LABELS) == "service=checkout"


def test_an_alert_without_a_service_is_grouped_by_its_service_label() -> None:
    assert Ruleset().group_key("", LABELS) == "service=from-label"


def test_other_fields_are_read_off_the_labels_in_group_by_order() -> None:
    ruleset = Ruleset(group_by=("team", "service", "cluster", "absent"))
    assert ruleset.group_key("checkout", LABELS) == (
        "team=db|service=checkout|cluster=eu-1|absent="
    )
    assert ruleset.group_key("", ()) == "team=|service=|cluster=|absent="
