"""A memoized score is the score: the same value, priority and factors as one computed afresh,
whatever was scored before it, under whichever ruleset, and once the memo was emptied."""

from __future__ import annotations

import itertools

import pytest

from helios.domain import scoring
from helios.domain.patterns import RegexEngine
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset
from helios.domain.scoring import Factor, ScoreInput
from helios.domain.values import Severity

BOOSTED = Ruleset(
    version=2,
    multipliers=(
        Multiplier(
            name="tier0",
            percent=150,
            matchers=(LabelMatcher(name="tier", op=MatchOp.EQ, value="0"),),
        ),
        Multiplier(name="db", percent=120, service="db"),
    ),
    recurrence_points=7,
    recurrence_cap=40,
    flapping_penalty=15,
)
LABELS = ((("tier", "0"),), (("tier", "1"),), ())
INPUTS = [
    ScoreInput(
        severity=severity,
        service=service,
        labels=labels,
        occurrences=occurrences,
        flapping=flapping,
        regex_engine=RegexEngine.RE2,
    )
    for severity, service, labels, occurrences, flapping in itertools.product(
        (Severity.CRITICAL, Severity.INFO), ("db", "web"), LABELS, (1, 2, 9), (False, True)
    )
]


def _fresh(subject: ScoreInput, ruleset: Ruleset) -> scoring.Score:
    """The score computed as written in the rules, without any memo."""
    points = ruleset.points(subject.severity)
    factors = [Factor(name="severity", input=subject.severity.value, effect=points)]
    value = points
    labels = dict(subject.labels)
    for multiplier in ruleset.multipliers:
        if multiplier.service is not None and multiplier.service != subject.service:
            continue
        if not all(m.matches(labels) for m in multiplier.matchers):
            continue
        scaled = value * multiplier.percent // 100
        factors.append(
            Factor(
                name=f"multiplier:{multiplier.name}",
                input=f"{multiplier.percent}%",
                effect=scaled - value,
            )
        )
        value = scaled
    if subject.occurrences > 1 and ruleset.recurrence_points:
        bonus = min(ruleset.recurrence_cap, (subject.occurrences - 1) * ruleset.recurrence_points)
        factors.append(Factor(name="recurrence", input=str(subject.occurrences), effect=bonus))
        value += bonus
    if subject.flapping and ruleset.flapping_penalty:
        factors.append(Factor(name="flapping", input="flapping", effect=-ruleset.flapping_penalty))
        value -= ruleset.flapping_penalty
    clamped = min(100, max(0, value))
    if clamped != value:
        factors.append(Factor(name="clamp", input="0..100", effect=clamped - value))
    return scoring.Score(
        value=clamped,
        priority=scoring.priority_for(clamped, ruleset),
        factors=tuple(factors),
        ruleset_version=ruleset.version,
    )


def test_every_memoized_score_equals_the_score_computed_afresh() -> None:
    for _ in range(2):  # the second round is answered from the memo
        for ruleset in (BOOSTED, Ruleset()):
            for subject in INPUTS:
                assert scoring.score(subject, ruleset) == _fresh(subject, ruleset)


def test_scores_stay_right_once_the_memo_is_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "_MEMO_SCORES", 3)
    monkeypatch.setattr(scoring, "_MEMO_BASES", 3)
    monkeypatch.setattr(scoring, "_MEMOS", [])
    for subject in INPUTS * 2:
        assert scoring.score(subject, BOOSTED) == _fresh(subject, BOOSTED)
    (memo,) = [memo for memo in scoring._MEMOS if memo.ruleset is BOOSTED]
    assert len(memo.scores) <= 3
    assert len(memo.bases) <= 3


def test_more_rulesets_than_the_memo_keeps_score_each_by_its_own_rules() -> None:
    rulesets = [Ruleset(version=v, recurrence_points=v) for v in range(1, 8)]
    subject = INPUTS[2]
    for _ in range(2):
        for ruleset in rulesets:
            assert scoring.score(subject, ruleset) == _fresh(subject, ruleset)
    assert len(scoring._MEMOS) <= scoring._MEMO_RULESETS
