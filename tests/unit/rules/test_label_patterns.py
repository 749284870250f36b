"""Label patterns (``=~`` / ``!~``): RE2 syntax, refused at creation when RE2 cannot read
them, and matched in linear time whatever the label value."""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from domain_strategies import make_signal

from helios.domain import alert, engine, incident, ruleset_stream, silence
from helios.domain.errors import CommandRejected
from helios.domain.patterns import RegexEngine, engine_for
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset, validate
from helios.domain.values import Action

# Python's re backtracks exponentially on these when the value almost matches.
PATHOLOGICAL = (r"(a+)+$", r"(a|aa)+b", r"(a|a)*c", r"(.*a){12}")
LONGEST_VALUE = "a" * 1023 + "!"
"""A 1,024-character label value, the longest normalization lets through."""

UNREADABLE = {
    "back-reference": r"(a)\1",
    "look-ahead": r"(?=x)x",
    "look-behind": r"(?<=x)y",
    "atomic group": r"(?>a)",
    "possessive": r"a++",
    "too long": "a" * 1025,
    "repetition over 1,000": r"a{1001}",
    "too big for RE2's memory bound": ".{1000}" * 8,
}


def a_silence(pattern: str, op: MatchOp = MatchOp.RE) -> silence.Silence:
    return silence.Silence(
        silence_id="s1",
        matchers=(LabelMatcher(name="path", op=op, value=pattern),),
        starts_at=0,
        ends_at=100,
    )


def rules_with(pattern: str) -> Ruleset:
    return Ruleset(
        version=1,
        multipliers=(
            Multiplier(
                name="m",
                percent=150,
                matchers=(LabelMatcher(name="path", op=MatchOp.RE, value=pattern),),
            ),
        ),
    )


@pytest.mark.parametrize("pattern", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_silence_whose_pattern_re2_cannot_read_is_refused_naming_the_matcher(
    pattern: str,
) -> None:
    """Back-references, look-around and oversized patterns: CommandRejected on matchers[0]."""
    command = silence.CreateSilence(silence=a_silence(pattern), at=0)
    with pytest.raises(CommandRejected) as rejected:
        silence.decide(command, silence.initial_state("t1"))
    assert [field for field, _ in rejected.value.problems] == ["matchers[0].value"]


@pytest.mark.parametrize("pattern", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_ruleset_whose_pattern_re2_cannot_read_is_refused_naming_the_matcher(
    pattern: str,
) -> None:
    """The same patterns in a multiplier do not validate, nor publish."""
    fields = [p.field for p in validate(rules_with(pattern))]
    assert fields == ["multipliers[0].matchers[0]"]
    command = ruleset_stream.PublishRuleset(ruleset=rules_with(pattern), at=0)
    with pytest.raises(CommandRejected):
        ruleset_stream.decide(command, ruleset_stream.initial_state("t1"))


def test_the_refusal_says_what_re2_could_not_read() -> None:
    """The message carries RE2's own reason, as text."""
    command = silence.CreateSilence(silence=a_silence(r"(a)\1"), at=0)
    with pytest.raises(CommandRejected) as rejected:
        silence.decide(command, silence.initial_state("t1"))
    [(_, message)] = rejected.value.problems
    assert "invalid escape sequence: \\1" in message
    assert not message.startswith("b'")


@pytest.mark.parametrize("pattern", PATHOLOGICAL)
@pytest.mark.parametrize("op", [MatchOp.RE, MatchOp.NRE])
def test_a_pathological_pattern_on_the_longest_label_value_is_decided(
    pattern: str, op: MatchOp
) -> None:
    """It is accepted (RE2 reads it) and matching a 1,024-character value completes."""
    created = silence.decide(
        silence.CreateSilence(silence=a_silence(pattern, op), at=0), silence.initial_state("t1")
    )
    state = silence.evolve(silence.initial_state("t1"), created[0])
    found = silence.matching(state.silences, (("path", LONGEST_VALUE),), 10)
    assert found == (() if op is MatchOp.RE else ("s1",))


# --------------------------------------------------------------------------- which engine reads


def recorded_silence(
    pattern: str, engine: RegexEngine, op: MatchOp = MatchOp.RE
) -> silence.Silence:
    return attrs.evolve(a_silence(pattern, op), regex_engine=engine)


def test_creating_a_silence_or_publishing_rules_records_the_re2_engine() -> None:
    """What was validated as RE2 is recorded as RE2, so no other engine ever reads it."""
    [created] = silence.decide(
        silence.CreateSilence(silence=a_silence("db-.*"), at=0), silence.initial_state("t1")
    )
    assert created.silence.regex_engine is RegexEngine.RE2
    [published] = ruleset_stream.decide(
        ruleset_stream.PublishRuleset(ruleset=rules_with("db-.*"), at=0),
        ruleset_stream.initial_state("t1"),
    )
    assert published.ruleset.regex_engine is RegexEngine.RE2
    assert Ruleset().regex_engine is RegexEngine.PYTHON_RE  # what records without one mean


def test_an_input_recorded_before_re2_reads_old_patterns_as_pythons_re_did() -> None:
    r"""\d matches an Arabic-Indic digit in re, not in RE2: the input's engine decides."""
    old = (recorded_silence(r"\d+", RegexEngine.PYTHON_RE),)
    labels = (("path", "\u0663"),)
    assert silence.matching(old, labels, 10, RegexEngine.PYTHON_RE) == ("s1",)
    assert silence.matching(old, labels, 10, RegexEngine.RE2) == ()


def test_a_pattern_recorded_as_re2_is_read_by_re2_even_for_an_old_input() -> None:
    r"""\pN is RE2 syntax (re refuses it): a new silence never reaches re."""
    new = (recorded_silence(r"\pN+", RegexEngine.RE2),)
    labels = (("path", "\u0663"),)
    assert silence.matching(new, labels, 10, RegexEngine.PYTHON_RE) == ("s1",)
    assert silence.matching(new, labels, 10, RegexEngine.RE2) == ("s1",)


@pytest.mark.parametrize(("op", "value"), [(MatchOp.RE, "aa"), (MatchOp.NRE, "b")])
def test_an_old_pattern_re2_cannot_read_holds_for_nothing_in_new_inputs(
    op: MatchOp, value: str
) -> None:
    """A back-reference silenced under re; for a new input neither =~ nor !~ holds, so the
    silence silences nothing (and a multiplier with it applies to nothing)."""
    old = (recorded_silence(r"(a)\1", RegexEngine.PYTHON_RE, op),)
    labels = (("path", value),)
    assert silence.matching(old, labels, 10, RegexEngine.PYTHON_RE) == ("s1",)
    assert silence.matching(old, labels, 10, RegexEngine.RE2) == ()


def test_an_old_catastrophic_pattern_cannot_stall_a_new_input() -> None:
    """Through the engine: an old silence and an old multiplier with (a+)+$, a signal with a
    1,024-character value, decided under the context of every new input (RE2)."""
    old_rules = attrs.evolve(rules_with(r"(a+)+$"), regex_engine=RegexEngine.PYTHON_RE)
    context = engine.TenantContext(
        ruleset=old_rules, silences=(recorded_silence(r"(a+)+$", RegexEngine.PYTHON_RE),)
    )
    assert engine_for(context.engine_version) is RegexEngine.RE2
    signal = make_signal(action=Action.TRIGGER, offset_s=0, extra_labels=(("path", LONGEST_VALUE),))
    working = engine.Working(alerts={}, groups={})
    missing = engine.apply_signal(working, signal, context)
    assert missing is not None
    for group in missing.groups:
        working.groups[group] = incident.initial_state(*group)
    assert engine.apply_signal(working, signal, context) is None
    decided = [e for events in working.events.values() for e in events]
    assert not any(isinstance(e, alert.AlertSilenced) for e in decided)
    [scored] = [e for e in decided if alert.scores(e)]
    assert [f.name for f in scored.factors] == ["severity"]
