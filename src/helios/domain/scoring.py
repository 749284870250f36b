"""Priority scoring in integer arithmetic, with the factors that reproduce every score.

score = clamp(0, 100, severity points × each matching multiplier (percent, in rule order, floor
division) + recurrence bonus − flapping penalty). Integers only: replay must match on every
platform, and floats would not.
"""

from __future__ import annotations

import attrs
import msgspec

from helios.domain.patterns import RegexEngine, reading_engine
from helios.domain.ruleset import Ruleset, matches_all
from helios.domain.values import Labels, Priority, Severity


class Factor(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One step of a score: what it looked at (``input``) and what it added (``effect``)."""

    effect: int
    input: str
    name: str


class Score(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A score with its explanation (a frozen struct: one is built for every new score)."""

    value: int
    priority: Priority
    factors: tuple[Factor, ...]
    ruleset_version: int


@attrs.frozen(kw_only=True)
class ScoreInput:
    """What a score depends on, and nothing else."""

    severity: Severity
    service: str
    labels: Labels
    occurrences: int
    flapping: bool
    regex_engine: RegexEngine = RegexEngine.RE2
    """The engine of the input being decided (see ``helios.domain.patterns``)."""


def score(subject: ScoreInput, ruleset: Ruleset) -> Score:
    """Score an alert's current episode under a ruleset, with its explanation."""
    return scored(
        ruleset,
        severity=subject.severity,
        service=subject.service,
        labels=subject.labels,
        occurrences=subject.occurrences,
        flapping=subject.flapping,
        regex_engine=subject.regex_engine,
    )


def scored(
    ruleset: Ruleset,
    *,
    severity: Severity,
    service: str,
    labels: Labels,
    occurrences: int,
    flapping: bool,
    regex_engine: RegexEngine,
) -> Score:
    """``score`` of the ``ScoreInput`` of these fields, memoized: an episode is scored again
    on every signal it takes, mostly to the same score (a score is immutable)."""
    memo = _MEMOS[0] if _MEMOS else None
    if memo is None or memo.ruleset is not ruleset:
        memo = _memo_of(ruleset)
    # The severity by its rank and the engine by a bool: an enum member hashes in Python.
    key = (severity.rank, service, labels, occurrences, flapping, regex_engine is _RE2)
    found = memo.scores.get(key)
    if found is None:
        found = _score(
            memo,
            severity=severity,
            service=service,
            label_pairs=labels,
            occurrences=occurrences,
            flapping=flapping,
            regex_engine=regex_engine,
        )
        if len(memo.scores) >= _MEMO_SCORES:
            memo.scores.clear()  # bounded; a score is recomputed the same when asked again
        memo.scores[key] = found
    return found


_ScoreKey = tuple[int, str, Labels, int, bool, bool]
"""(severity rank, service, labels, occurrences, flapping, read by RE2)"""
_BaseKey = tuple[int, str, Labels, bool]
_RE2 = RegexEngine.RE2


@attrs.define
class _Memo:
    """The scores of one ruleset (by identity: a ruleset is immutable), and the part of them
    that only the episode's severity, service and labels decide (the points and multipliers,
    which look at the labels), shared by its scores at every count of occurrences."""

    ruleset: Ruleset
    scores: dict[_ScoreKey, Score] = attrs.Factory(dict)
    bases: dict[_BaseKey, tuple[int, tuple[Factor, ...]]] = attrs.Factory(dict)


_MEMOS: list[_Memo] = []
"""The memos of the rulesets scored lately, the latest first."""
_MEMO_SCORES = 4096
"""Scores kept per ruleset, each about 300 bytes. A score is asked for at every count of an
episode's occurrences, and again in each later episode: with 1024, the scores of the demo's
mix of some 200 alerts filled the memo, which was then cleared, and more than half of the
scores asked for were computed again (2,574 computed of 12,391 asked with 4096, 5,608 with
1024)."""
_MEMO_BASES = 1024
"""Bases kept per ruleset: one per severity, service and labels."""
_MEMO_RULESETS = 4


def _memo_of(ruleset: Ruleset) -> _Memo:
    for memo in _MEMOS:
        if memo.ruleset is ruleset:
            break
    else:
        memo = _Memo(ruleset=ruleset)
    _MEMOS[:] = [memo, *(m for m in _MEMOS[:_MEMO_RULESETS] if m is not memo)][:_MEMO_RULESETS]
    # one slice assignment: thread-safe
    return memo


def _score(
    memo: _Memo,
    *,
    severity: Severity,
    service: str,
    label_pairs: Labels,
    occurrences: int,
    flapping: bool,
    regex_engine: RegexEngine,
) -> Score:
    ruleset = memo.ruleset
    base_key = (severity.rank, service, label_pairs, regex_engine is _RE2)
    base = memo.bases.get(base_key)
    if base is None:
        base = _base(ruleset, severity, service, label_pairs, regex_engine)
        if len(memo.bases) >= _MEMO_BASES:
            memo.bases.clear()
        memo.bases[base_key] = base
    value, base_factors = base
    factors = list(base_factors)
    # ``min`` and ``max`` spelled out: each builtin call goes through argument parsing and
    # the iterator protocol, several times the comparison (this runs for most new signals).
    extra = occurrences - 1 if occurrences > 1 else 0
    if extra and ruleset.recurrence_points:
        bonus, cap = extra * ruleset.recurrence_points, ruleset.recurrence_cap
        bonus = cap if bonus > cap else bonus
        factors.append(Factor(name="recurrence", input=f"{occurrences}", effect=bonus))
        value += bonus
    if flapping and ruleset.flapping_penalty:
        factors.append(Factor(name="flapping", input="flapping", effect=-ruleset.flapping_penalty))
        value -= ruleset.flapping_penalty
    clamped = 0 if value < 0 else 100 if value > 100 else value
    if clamped != value:
        factors.append(Factor(name="clamp", input="0..100", effect=clamped - value))
    return Score(
        value=clamped,
        priority=priority_for(clamped, ruleset),
        factors=tuple(factors),
        ruleset_version=ruleset.version,
    )


def _base(
    ruleset: Ruleset,
    severity: Severity,
    service: str,
    label_pairs: Labels,
    regex_engine: RegexEngine,
) -> tuple[int, tuple[Factor, ...]]:
    """The severity's points through each matching multiplier: the value and its factors."""
    points = ruleset.points(severity)
    factors = [Factor(name="severity", input=severity.value, effect=points)]
    value = points
    labels = dict(label_pairs)
    engine = reading_engine(ruleset.regex_engine, regex_engine)
    for multiplier in ruleset.multipliers:
        if multiplier.service is not None and multiplier.service != service:
            continue
        if not matches_all(multiplier.matchers, labels, engine):
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
    return value, tuple(factors)


def priority_for(value: int, ruleset: Ruleset) -> Priority:
    for priority, threshold in ruleset.thresholds:
        if value >= threshold:
            return priority
    return Priority.P5
