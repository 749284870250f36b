"""Law 4 (monotonicity): more severe never scores lower; a matching boost never lowers."""

from __future__ import annotations

from domain_strategies import SERVICES, multipliers, rulesets
from hypothesis import given
from hypothesis import strategies as st

from helios.domain.ruleset import Multiplier, Ruleset
from helios.domain.scoring import ScoreInput, score
from helios.domain.values import Severity

inputs = st.builds(
    ScoreInput,
    severity=st.sampled_from(list(Severity)),
    service=st.sampled_from(SERVICES),
    labels=st.sampled_from(
        [(("alertname", "k1"), ("service", "db")), (("service", "api"), ("team", "core")), ()]
    ),
    occurrences=st.integers(min_value=1, max_value=20),
    flapping=st.booleans(),
)


@given(subject=inputs, other=st.sampled_from(list(Severity)), ruleset=rulesets)
def test_raising_a_signals_severity_never_lowers_the_score(
    subject: ScoreInput, other: Severity, ruleset: Ruleset
) -> None:
    low, high = sorted((subject.severity, other), key=lambda s: s.rank)
    low_score = score(subject.__class__(**{**_fields(subject), "severity": low}), ruleset)
    high_score = score(subject.__class__(**{**_fields(subject), "severity": high}), ruleset)
    assert high_score.value >= low_score.value
    assert high_score.priority.urgency >= low_score.priority.urgency


@given(
    subject=inputs,
    ruleset=rulesets,
    boost=multipliers,
    percent=st.integers(min_value=101, max_value=1000),
    position=st.integers(min_value=0, max_value=3),
)
def test_adding_a_matching_multiplier_above_100_percent_never_lowers_the_score(
    subject: ScoreInput, ruleset: Ruleset, boost: Multiplier, percent: int, position: int
) -> None:
    # Make the boost match this subject: no matchers, and either any service or its own.
    matching = Multiplier(
        name=boost.name, percent=percent, service=boost.service and subject.service
    )
    boosted_rules = list(ruleset.multipliers)
    boosted_rules.insert(min(position, len(boosted_rules)), matching)
    before = score(subject, ruleset)
    after = score(subject, Ruleset(multipliers=tuple(boosted_rules), **_rules_fields(ruleset)))
    assert after.value >= before.value


@given(subject=inputs, ruleset=rulesets)
def test_the_factors_reproduce_the_score(subject: ScoreInput, ruleset: Ruleset) -> None:
    """Every score carries its explanation: the factors add up to it exactly."""
    result = score(subject, ruleset)
    assert sum(f.effect for f in result.factors) == result.value
    assert 0 <= result.value <= 100
    assert result.ruleset_version == ruleset.version


def _fields(subject: ScoreInput) -> dict[str, object]:
    return {
        "severity": subject.severity,
        "service": subject.service,
        "labels": subject.labels,
        "occurrences": subject.occurrences,
        "flapping": subject.flapping,
    }


def _rules_fields(ruleset: Ruleset) -> dict[str, object]:
    return {
        "recurrence_points": ruleset.recurrence_points,
        "recurrence_cap": ruleset.recurrence_cap,
        "flapping_penalty": ruleset.flapping_penalty,
        "flap_threshold": ruleset.flap_threshold,
    }
