"""The TOML rules file: round trip, defaults, and errors that name the field and line."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from helios.apps.application import rules_file
from helios.domain.ruleset import DEFAULT_RULESET, LabelMatcher, MatchOp, Multiplier
from helios.domain.values import MINUTE_MS, Priority

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "rules.toml"


def test_a_dumped_ruleset_loads_back_equal() -> None:
    """dump then load is the identity, multipliers and matchers included."""
    ruleset = attrs.evolve(
        DEFAULT_RULESET,
        version=4,
        multipliers=(
            Multiplier(
                name="prod",
                percent=130,
                matchers=(LabelMatcher(name="env", op=MatchOp.NRE, value="dev|test"),),
            ),
        ),
        escalate_after_ms=90_000,
    )
    assert rules_file.loads(rules_file.dumps(ruleset)) == ruleset


def test_left_out_keys_keep_the_defaults() -> None:
    """A short hand-written file changes only what it names."""
    ruleset = rules_file.loads('version = 2\n[notifications]\nescalate_after = "10m"\n')
    assert ruleset == attrs.evolve(DEFAULT_RULESET, version=2, escalate_after_ms=10 * MINUTE_MS)


def test_the_lateness_horizon_is_a_conflicts_setting() -> None:
    ruleset = rules_file.loads(
        'version = 2\n[conflicts]\nlateness_horizon = "2h"\nhorizon_signals = 500\n'
    )
    assert (ruleset.lateness_horizon_ms, ruleset.horizon_signals) == (7_200_000, 500)


def test_the_documented_example_is_valid() -> None:
    """docs/examples/rules.toml loads."""
    ruleset = rules_file.load(str(EXAMPLE))
    assert ruleset.notify_priorities == (Priority.P1, Priority.P2, Priority.P3)
    assert [m.name for m in ruleset.multipliers] == ["payments", "production"]


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("version = 2\n[scoring.thresholds]\nP1 = 80\nP2 = 90\n", "scoring.thresholds", 2),
        ('version = 2\n[conflicts]\nflap_window = "soon"\n', "conflicts.flap_window", 3),
        ("version = 2\n[grouping]\ngroup_bye = []\n", "grouping.group_bye", 3),
        ("version = 2\n[conflicts]\nlateness_horizon = 0\n", "conflicts.lateness_horizon", 3),
        ("version = 2\n[conflicts]\nhorizon_signals = -1\n", "conflicts.horizon_signals", 3),
        (
            'version = 2\n[[multipliers]]\nname = "a"\npercent = 1\n'
            '[[multipliers]]\nname = "b"\npercent = 5000\n',
            "multipliers[1].percent",
            7,
        ),
        ("version = 2\n[identity\n", "(toml)", 2),
    ],
)
def test_errors_name_the_field_and_line(text: str, field: str, line: int) -> None:
    """Each problem says which field is wrong and where it is written."""
    with pytest.raises(rules_file.RulesFileError) as caught:
        rules_file.loads(text)
    problem = caught.value.problems[0]
    assert (problem.field, problem.line) == (field, line)
