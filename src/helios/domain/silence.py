"""Silences: time-boxed label matchers that stop notifications, never state changes.

One stream per tenant holds its silences. A matching signal is processed normally; only the
notifications it would cause are suppressed, and the decisions name the silence.
"""

from __future__ import annotations

import uuid

import attrs

from helios.domain.errors import CommandRejected
from helios.domain.events import ADDED_FIELD, event
from helios.domain.identity import stream_id
from helios.domain.patterns import RegexEngine, pattern_problem, reading_engine
from helios.domain.ruleset import LABEL_KEY, LabelMatcher, MatchOp, matches_all
from helios.domain.values import Labels, Millis

MAX_MATCHERS = 64
MAX_VALUE_CHARS = 1024
"""The longest value an ``=`` or ``!=`` matcher may hold (a label value's limit); patterns
have theirs (``helios.domain.patterns.MAX_PATTERN_CHARS``)."""
MAX_COMMENT_CHARS = 1024


@attrs.frozen(kw_only=True)
class Silence:
    silence_id: str
    matchers: tuple[LabelMatcher, ...]
    starts_at: Millis
    ends_at: Millis
    created_by: str = ""
    comment: str = ""
    regex_engine: RegexEngine = attrs.field(default=RegexEngine.PYTHON_RE, metadata=ADDED_FIELD)
    """The engine the patterns were validated with when the silence was created: RE2 since
    patterns are RE2; absent (``re``) on silences created before."""

    def silences(self, labels: Labels, at: Millis, engine: RegexEngine = RegexEngine.RE2) -> bool:
        """Whether a signal that occurred ``at`` with ``labels`` falls under this silence,
        deciding an input recorded under ``engine``."""
        return self.starts_at <= at < self.ends_at and matches_all(
            self.matchers, dict(labels), reading_engine(self.regex_engine, engine)
        )


def matching(
    silences: tuple[Silence, ...],
    labels: Labels,
    at: Millis,
    engine: RegexEngine = RegexEngine.RE2,
) -> tuple[str, ...]:
    """Ids of the silences that cover a signal, sorted (``engine``: the input's, see
    ``helios.domain.patterns.reading_engine``)."""
    return tuple(sorted(s.silence_id for s in silences if s.silences(labels, at, engine)))


@attrs.frozen(kw_only=True)
class TenantSilences:
    tenant: str
    silences: tuple[Silence, ...] = ()

    def get(self, silence_id: str) -> Silence | None:
        return next((s for s in self.silences if s.silence_id == silence_id), None)


@attrs.frozen(kw_only=True)
class CreateSilence:
    silence: Silence
    at: Millis
    backfill: bool = False
    """A silence over past inputs (the library silencing history it ingests): it may have
    ended before ``at``. A silence created for live traffic must end after ``at``."""


@attrs.frozen(kw_only=True)
class ExpireSilence:
    silence_id: str
    at: Millis
    by: str = ""


@event("helios.silence.created.v1")
@attrs.frozen(kw_only=True)
class SilenceCreated:
    silence: Silence
    at: Millis


@event("helios.silence.expired.v1")
@attrs.frozen(kw_only=True)
class SilenceExpired:
    silence_id: str
    at: Millis
    by: str = ""


SilenceCommand = CreateSilence | ExpireSilence
SilenceEvent = SilenceCreated | SilenceExpired


def initial_state(tenant: str) -> TenantSilences:
    return TenantSilences(tenant=tenant)


def silences_stream_id(tenant: str) -> uuid.UUID:
    """The stream of a tenant's silences."""
    return stream_id("silences", tenant)


def decide(command: SilenceCommand, state: TenantSilences) -> tuple[SilenceEvent, ...]:
    """Validate a silence command.

    A new silence needs 1 to ``MAX_MATCHERS`` matchers on label names, values no longer than
    a label value, patterns RE2 reads, a comment of at most ``MAX_COMMENT_CHARS`` and a window
    that ends after it starts and, unless it is a ``backfill``, after the command's time (one
    that has already ended would silence nothing). Every problem is named, in field order, in
    one refusal.

    Raises:
        CommandRejected: a malformed silence (a pattern RE2 cannot read included), a duplicate
            id, or an unknown one to expire.
    """
    match command:
        case CreateSilence(silence=silence, at=at, backfill=backfill):
            problems = _problems(silence, None if backfill else at)
            if state.get(silence.silence_id) is not None:
                problems.append(("silence_id", "already exists"))
            if problems:
                raise CommandRejected("invalid silence", tuple(problems))
            # Validated as RE2 just above: record it, so it is never read by another engine.
            recorded = attrs.evolve(silence, regex_engine=RegexEngine.RE2)
            return (SilenceCreated(silence=recorded, at=at),)
        case ExpireSilence(silence_id=silence_id, at=at, by=by):
            existing = state.get(silence_id)
            if existing is None:
                raise CommandRejected("no such silence", (("silence_id", "unknown"),))
            if existing.ends_at <= at:
                return ()
            return (SilenceExpired(silence_id=silence_id, at=at, by=by),)


def evolve(state: TenantSilences, event: SilenceEvent) -> TenantSilences:
    match event:
        case SilenceCreated(silence=silence):
            return attrs.evolve(state, silences=(*state.silences, silence))
        case SilenceExpired(silence_id=silence_id, at=at):
            return attrs.evolve(
                state,
                silences=tuple(
                    attrs.evolve(s, ends_at=min(s.ends_at, at)) if s.silence_id == silence_id else s
                    for s in state.silences
                ),
            )


def would_silence(matchers: tuple[LabelMatcher, ...], labels: dict[str, str]) -> bool:
    """Whether a silence with ``matchers`` covers labels now (a preview: RE2, as decided).

    Raises:
        CommandRejected: the matchers break a silence's rules (each named).
    """
    problems = _matcher_problems(matchers)
    if problems:
        raise CommandRejected("invalid matchers", tuple(problems))
    return matches_all(matchers, labels, RegexEngine.RE2)


def _matcher_problems(matchers: tuple[LabelMatcher, ...]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not matchers:
        problems.append(("matchers", "at least one matcher is required"))
    if len(matchers) > MAX_MATCHERS:
        problems.append(("matchers", f"at most {MAX_MATCHERS}"))
    for index, matcher in enumerate(matchers):
        if LABEL_KEY.match(matcher.name) is None:
            problems.append((f"matchers[{index}].name", "is not a label name"))
        reason = _value_problem(matcher)
        if reason is not None:
            problems.append((f"matchers[{index}].value", reason))
    return problems


def _problems(silence: Silence, ends_after: Millis | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not silence.silence_id:
        problems.append(("silence_id", "must not be empty"))
    problems.extend(_matcher_problems(silence.matchers))
    if len(silence.comment) > MAX_COMMENT_CHARS:
        problems.append(("comment", f"at most {MAX_COMMENT_CHARS} characters"))
    if ends_after is None:
        if silence.ends_at <= silence.starts_at:
            problems.append(("ends_at", "must be after starts_at"))
    elif silence.ends_at <= max(silence.starts_at, ends_after):
        problems.append(("ends_at", "must be after starts_at and in the future"))
    return problems


def _value_problem(matcher: LabelMatcher) -> str | None:
    if matcher.op in (MatchOp.RE, MatchOp.NRE):
        return pattern_problem(matcher.value)
    if len(matcher.value) > MAX_VALUE_CHARS:
        return f"at most {MAX_VALUE_CHARS} characters"
    return None
