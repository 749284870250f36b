"""Priority scoring in integer arithmetic, with the factors that reproduce every score.

score = clamp(0, 100, severity points × each matching multiplier (percent, in rule order, floor
division) + recurrence bonus − flapping penalty). Integers only: replay must match on every
platform, and floats would not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

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


@attrs.frozen(kw_only=True)
class Score:
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
    key = (severity, service, labels, occurrences, flapping, regex_engine)
    for held, memo in _MEMOS:
        if held is ruleset:
            return memo(key)
    memo = functools.lru_cache(maxsize=_MEMO_SCORES)(functools.partial(_score, ruleset))
    _MEMOS[:] = [
        (ruleset, memo),
        *_MEMOS[: _MEMO_RULESETS - 1],
    ]  # one slice assignment: thread-safe
    return memo(key)


_ScoreKey = tuple[Severity, str, Labels, int, bool, RegexEngine]
_MEMOS: list[tuple[Ruleset, Callable[[_ScoreKey], Score]]] = []
"""Per ruleset (by identity: a ruleset is immutable), the memo of its scores."""
_MEMO_SCORES = 1024
_MEMO_RULESETS = 4


def _score(ruleset: Ruleset, key: _ScoreKey) -> Score:
    severity, service, label_pairs, occurrences, flapping, regex_engine = key
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
    extra = max(0, occurrences - 1)
    if extra and ruleset.recurrence_points:
        bonus = min(ruleset.recurrence_cap, extra * ruleset.recurrence_points)
        factors.append(Factor(name="recurrence", input=f"{occurrences}", effect=bonus))
        value += bonus
    if flapping and ruleset.flapping_penalty:
        factors.append(Factor(name="flapping", input="flapping", effect=-ruleset.flapping_penalty))
        value -= ruleset.flapping_penalty
    clamped = min(100, max(0, value))
    if clamped != value:
        factors.append(Factor(name="clamp", input="0..100", effect=clamped - value))
    return Score(
        value=clamped,
        priority=priority_for(clamped, ruleset),
        factors=tuple(factors),
        ruleset_version=ruleset.version,
    )


def priority_for(value: int, ruleset: Ruleset) -> Priority:
    for priority, threshold in ruleset.thresholds:
        if value >= threshold:
            return priority
    return Priority.P5
