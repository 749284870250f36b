"""``import helios``: the embedding API over a real store, as the README shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

import helios
from helios.domain.errors import CommandRejected
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset
from helios.domain.silence import Silence
from helios.domain.values import Priority, Status

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"
T0 = 1_773_480_000_000


def test_the_library_ingests_scores_with_published_rules_and_names_the_silence(
    tmp_path: Path,
) -> None:
    body = (PAYLOADS / "alertmanager_v4_firing.json").read_bytes()
    with helios.open(f"sqlite:{tmp_path}/alerts.db") as hx:
        checkout = Multiplier(name="checkout", percent=120, service="checkout")
        assert hx.publish_rules("acme", Ruleset(version=1, multipliers=(checkout,))) == 1
        with pytest.raises(CommandRejected):
            hx.publish_rules("acme", Ruleset(version=1))  # not the next version
        hx.create_silence(
            "acme",
            Silence(
                silence_id="maint",
                matchers=(LabelMatcher(name="pod", op=MatchOp.RE, value=".*x2k4q"),),
                starts_at=T0 - 10**10,
                ends_at=T0 + 10**10,
            ),
        )
        envelope = hx.envelope(tenant="acme", source="alertmanager", body=body, received_at=T0)
        report = hx.ingest([envelope])
        again = hx.ingest([envelope])

        alerts = {a.dedup_key: a for a in hx.alerts("acme")}
        names = [r.name for r in hx.decisions("acme", "3f9c1a7e52b04d18")]

    assert report.signals == 2
    assert again.already_processed == 1
    assert set(alerts) == {"3f9c1a7e52b04d18", "a41e07c9d3b65f20"}
    silenced = alerts["3f9c1a7e52b04d18"]
    assert silenced.status is Status.TRIGGERED
    assert silenced.score == 84  # critical 70 x 120 %
    assert silenced.priority is Priority.P1
    assert silenced.silenced_by == ("maint",)
    assert "helios.alert.notification_suppressed.v1" in names
    assert "helios.alert.notification_requested.v1" not in names


def test_the_library_lists_a_tenants_incidents(tmp_path: Path) -> None:
    body = (PAYLOADS / "alertmanager_v4_firing.json").read_bytes()
    with helios.open("memory://") as hx:
        hx.ingest([hx.envelope(tenant="acme", source="alertmanager", body=body, received_at=T0)])
        groups = hx.incidents("acme")
        other = hx.incidents("another-tenant")
    assert len(groups) == 1
    assert groups[0].open is not None
    assert {m.dedup_key for m in groups[0].open.members} == {"3f9c1a7e52b04d18", "a41e07c9d3b65f20"}
    assert other == []
