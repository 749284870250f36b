"""A tenant's versioned rules: severity mapping, identity, scoring, grouping, notification.

Every field that can change a decision lives here, and every change is an event
(``RulesetPublished``), so a replay sees exactly the rules that were in force.
"""

from __future__ import annotations

import enum
import itertools
import re

import attrs

from helios.domain.events import ADDED_FIELD
from helios.domain.patterns import RegexEngine, full_match, pattern_problem
from helios.domain.values import HOUR_MS, MINUTE_MS, Millis, Priority, Severity

LABEL_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}\Z")


class SeverityPolicy(enum.Enum):
    """How disagreeing severities in one episode combine."""

    HIGHEST = "highest"
    LATEST = "latest"


class MatchOp(enum.Enum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@attrs.frozen(kw_only=True)
class LabelMatcher:
    """``name op value``, as in Alertmanager; patterns are anchored (full match), see
    ``helios.domain.patterns``."""

    name: str
    op: MatchOp
    value: str

    def matches(self, labels: dict[str, str], engine: RegexEngine = RegexEngine.RE2) -> bool:
        """Whether the labels satisfy this matcher, its pattern read by ``engine``.

        A pattern the engine cannot read satisfies neither ``=~`` nor ``!~``: the silence or
        multiplier holding it applies to nothing, rather than to everything.
        """
        actual = labels.get(self.name, "")
        match self.op:
            case MatchOp.EQ:
                return actual == self.value
            case MatchOp.NE:
                return actual != self.value
            case MatchOp.RE:
                return full_match(self.value, actual, engine) is True
            case MatchOp.NRE:
                return full_match(self.value, actual, engine) is False


def matches_all(
    matchers: tuple[LabelMatcher, ...],
    labels: dict[str, str],
    engine: RegexEngine = RegexEngine.RE2,
) -> bool:
    return all(matcher.matches(labels, engine) for matcher in matchers)


@attrs.frozen(kw_only=True)
class Multiplier:
    """Scales the score by ``percent`` (150 = ×1.5) when every matcher matches."""

    name: str
    percent: int
    matchers: tuple[LabelMatcher, ...] = ()
    service: str | None = None
    """When set, the multiplier applies only to this service (a service multiplier)."""


class CloudWatchInsufficientData(enum.Enum):
    IGNORE = "ignore"
    TRIGGER = "trigger"
    RESOLVE = "resolve"


DEFAULT_SEVERITY_MAP: tuple[tuple[str, Severity], ...] = (
    ("critical", Severity.CRITICAL),
    ("crit", Severity.CRITICAL),
    ("page", Severity.CRITICAL),
    ("p1", Severity.CRITICAL),
    ("fatal", Severity.CRITICAL),
    ("emergency", Severity.CRITICAL),
    ("error", Severity.ERROR),
    ("err", Severity.ERROR),
    ("high", Severity.ERROR),
    ("major", Severity.ERROR),
    ("p2", Severity.ERROR),
    ("warning", Severity.WARNING),
    ("warn", Severity.WARNING),
    ("minor", Severity.WARNING),
    ("medium", Severity.WARNING),
    ("p3", Severity.WARNING),
    ("info", Severity.INFO),
    ("informational", Severity.INFO),
    ("low", Severity.INFO),
    ("none", Severity.INFO),
    ("p4", Severity.INFO),
    ("p5", Severity.INFO),
)


@attrs.frozen(kw_only=True)
class Ruleset:
    """One version of a tenant's rules. Defaults are those of the product specification."""

    version: int = 0
    """0 is the built-in defaults; published versions count up from 1."""
    # identity and normalization
    key_labels: tuple[str, ...] = ("alertname", "service", "instance")
    severity_map: tuple[tuple[str, Severity], ...] = DEFAULT_SEVERITY_MAP
    default_severity: Severity = Severity.WARNING
    skew_tolerance_ms: Millis = 5 * MINUTE_MS
    cloudwatch_insufficient_data: CloudWatchInsufficientData = CloudWatchInsufficientData.IGNORE
    # conflict resolution
    severity_policy: SeverityPolicy = SeverityPolicy.HIGHEST
    flap_threshold: int = 5
    flap_window_ms: Millis = 30 * MINUTE_MS
    # the lateness horizon (engine version 3 on, see ``helios.domain.versions``)
    lateness_horizon_ms: Millis = attrs.field(default=HOUR_MS, metadata=ADDED_FIELD)
    """How far behind the latest signal of an alert (in the signals' own times) a signal may
    arrive and still take its place in the alert's history."""
    horizon_signals: int = attrs.field(default=1_000, metadata=ADDED_FIELD)
    """The most signals an alert keeps individually; with ``lateness_horizon_ms``, whichever
    is smaller bounds the horizon."""
    # scoring
    severity_points: tuple[tuple[Severity, int], ...] = (
        (Severity.CRITICAL, 70),
        (Severity.ERROR, 50),
        (Severity.WARNING, 30),
        (Severity.INFO, 10),
    )
    multipliers: tuple[Multiplier, ...] = ()
    recurrence_points: int = 2
    recurrence_cap: int = 10
    flapping_penalty: int = 20
    thresholds: tuple[tuple[Priority, int], ...] = (
        (Priority.P1, 80),
        (Priority.P2, 60),
        (Priority.P3, 40),
        (Priority.P4, 20),
    )
    # grouping, notification, escalation
    group_by: tuple[str, ...] = ("service",)
    notify_priorities: tuple[Priority, ...] = (Priority.P1, Priority.P2, Priority.P3)
    notify_on_resolve: bool = True
    notify_channel: str = "email"
    recipients: str = "on-call"
    escalate_after_ms: Millis = 15 * MINUTE_MS
    escalate_priorities: tuple[Priority, ...] = (Priority.P1, Priority.P2)
    # patterns
    regex_engine: RegexEngine = attrs.field(default=RegexEngine.PYTHON_RE, metadata=ADDED_FIELD)
    """The engine the matchers' patterns were validated with when this version was published:
    RE2 since patterns are RE2; absent (``re``) on versions published before."""

    def map_severity(self, raw: str | None) -> tuple[Severity, bool]:
        """The canonical severity for a source's value, and whether the default was used."""
        if raw:
            wanted = raw.strip().lower()
            for name, severity in self.severity_map:
                if name == wanted:
                    return severity, False
        return self.default_severity, True

    def group_key(self, service: str, labels: tuple[tuple[str, str], ...]) -> str:
        """The incident group key of an alert, from the ``group_by`` fields."""
        present: dict[str, str] | None = None  # built only for a field read off the labels
        parts = []
        for field in self.group_by:
            if field == "service" and service:
                value = service
            else:
                if present is None:
                    present = dict(labels)
                value = present.get(field, "")
            parts.append(f"{field}={value}")
        return "|".join(parts)

    def points(self, severity: Severity) -> int:
        for candidate, points in self.severity_points:
            if candidate is severity:
                return points
        return 0


MAX_LATENESS_HORIZON_MS: Millis = 7 * 24 * HOUR_MS
MAX_HORIZON_SIGNALS = 100_000
"""Bounds of the horizon a ruleset may set: the state of an alert, and the work of a late
signal inside its horizon, stay within them."""


@attrs.frozen(kw_only=True)
class RuleProblem:
    """One reason a ruleset is invalid, naming the field."""

    field: str
    message: str


def validate(ruleset: Ruleset) -> tuple[RuleProblem, ...]:  # noqa: C901, PLR0912
    """Every problem in a ruleset; empty when it may be published (patterns must be RE2)."""
    problems: list[RuleProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(RuleProblem(field=field, message=message))

    if ruleset.version < 1:
        problem("version", "must be >= 1")
    if not ruleset.key_labels:
        problem("key_labels", "needs at least one label")
    for index, name in enumerate(ruleset.key_labels):
        if not LABEL_KEY.match(name):
            problem(f"key_labels[{index}]", f"not a valid label name: {name!r}")
    for index, (name, _) in enumerate(ruleset.severity_map):
        if not name or name != name.strip().lower():
            problem(f"severity_map[{index}]", "keys must be lower-case and non-empty")
    if ruleset.skew_tolerance_ms < 0:
        problem("skew_tolerance_ms", "must be >= 0")
    if ruleset.flap_threshold < 2:
        problem("flap_threshold", "must be >= 2")
    if ruleset.flap_window_ms <= 0:
        problem("flap_window_ms", "must be > 0")
    if not 0 < ruleset.lateness_horizon_ms <= MAX_LATENESS_HORIZON_MS:
        problem("lateness_horizon_ms", f"must be within 1..{MAX_LATENESS_HORIZON_MS} (7 days)")
    if not 1 <= ruleset.horizon_signals <= MAX_HORIZON_SIGNALS:
        problem("horizon_signals", f"must be within 1..{MAX_HORIZON_SIGNALS}")
    if {severity for severity, _ in ruleset.severity_points} != set(Severity):
        problem("severity_points", "needs exactly one entry per severity")
    for severity, points in ruleset.severity_points:
        if not 0 <= points <= 100:
            problem(f"severity_points.{severity.value}", "must be within 0..100")
    by_rank = sorted(ruleset.severity_points, key=lambda pair: pair[0].rank)
    if any(low[1] > high[1] for low, high in itertools.pairwise(by_rank)):
        # A higher severity must never score lower: the monotonicity law depends on it.
        problem("severity_points", "must not decrease as severity rises")
    for index, multiplier in enumerate(ruleset.multipliers):
        if not 0 <= multiplier.percent <= 1000:
            problem(f"multipliers[{index}].percent", "must be within 0..1000")
        if not multiplier.name:
            problem(f"multipliers[{index}].name", "must not be empty")
        for m_index, matcher in enumerate(multiplier.matchers):
            if matcher.op in (MatchOp.RE, MatchOp.NRE):
                # Always RE2, whatever ``regex_engine`` says: this validates a new version.
                reason = pattern_problem(matcher.value)
                if reason is not None:
                    problem(f"multipliers[{index}].matchers[{m_index}]", reason)
    if ruleset.recurrence_points < 0 or ruleset.recurrence_cap < 0:
        problem("recurrence_points", "recurrence points and cap must be >= 0")
    if ruleset.flapping_penalty < 0:
        problem("flapping_penalty", "must be >= 0")
    levels = [value for _, value in ruleset.thresholds]
    if [p for p, _ in ruleset.thresholds] != [Priority.P1, Priority.P2, Priority.P3, Priority.P4]:
        problem("thresholds", "needs P1, P2, P3, P4 in that order")
    elif levels != sorted(levels, reverse=True) or len(set(levels)) != len(levels):
        problem("thresholds", "must strictly decrease from P1 to P4")
    if not ruleset.group_by:
        problem("group_by", "needs at least one field")
    if ruleset.escalate_after_ms <= 0:
        problem("escalate_after_ms", "must be > 0")
    return tuple(problems)


DEFAULT_RULESET = Ruleset()
