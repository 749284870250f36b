"""The silence decider's rules for matchers, comments and windows: each refusal names its field."""

from __future__ import annotations

import attrs
import pytest

from helios.domain import silence
from helios.domain.errors import CommandRejected
from helios.domain.ruleset import LabelMatcher, MatchOp

NOW = 1_000


def create(
    *matchers: LabelMatcher, comment: str = "", starts_at: int = NOW, ends_at: int = NOW + 60
) -> silence.CreateSilence:
    return silence.CreateSilence(
        silence=silence.Silence(
            silence_id="s1",
            matchers=matchers,
            starts_at=starts_at,
            ends_at=ends_at,
            comment=comment,
        ),
        at=NOW,
    )


def problems(command: silence.CreateSilence) -> tuple[tuple[str, str], ...]:
    with pytest.raises(CommandRejected) as rejected:
        silence.decide(command, silence.initial_state("t1"))
    return rejected.value.problems


def matcher(name: str = "service", op: MatchOp = MatchOp.EQ, value: str = "db") -> LabelMatcher:
    return LabelMatcher(name=name, op=op, value=value)


@pytest.mark.parametrize("name", ["", "9lives", "has space", "a/b", "a" * 129])
def test_a_matcher_on_something_that_is_not_a_label_name_is_refused(name: str) -> None:
    assert problems(create(matcher(name=name))) == (("matchers[0].name", "is not a label name"),)


@pytest.mark.parametrize("name", ["service", "_private", "k8s.io", "a" * 128, "a-b.c_d"])
def test_a_matcher_on_a_label_name_is_taken(name: str) -> None:
    [created] = silence.decide(create(matcher(name=name)), silence.initial_state("t1"))
    assert isinstance(created, silence.SilenceCreated)


def test_a_silence_with_more_than_64_matchers_is_refused() -> None:
    many = [matcher(name=f"l{i}") for i in range(65)]
    assert problems(create(*many)) == (("matchers", "at most 64"),)


def test_an_equality_value_longer_than_a_label_value_is_refused() -> None:
    assert problems(create(matcher(value="x" * 1025))) == (
        ("matchers[0].value", "at most 1024 characters"),
    )


def test_a_comment_longer_than_1024_characters_is_refused() -> None:
    assert problems(create(matcher(), comment="c" * 1025)) == (
        ("comment", "at most 1024 characters"),
    )


def test_a_silence_that_has_already_ended_is_refused() -> None:
    """Ending before the command's time silences nothing, whatever its start."""
    assert problems(create(matcher(), starts_at=0, ends_at=NOW)) == (
        ("ends_at", "must be after starts_at and in the future"),
    )


def test_every_bad_field_is_named_in_one_refusal_in_field_order() -> None:
    command = create(
        matcher(name="1x", op=MatchOp.RE, value="(a)\\1"),
        comment="c" * 2000,
        ends_at=NOW - 1,
    )
    assert [field for field, _ in problems(command)] == [
        "matchers[0].name",
        "matchers[0].value",
        "comment",
        "ends_at",
    ]


def test_a_backfilled_silence_may_have_ended_but_must_still_end_after_it_starts() -> None:
    """History ingested later is silenced by windows already past when they are recorded."""
    past = create(matcher(), starts_at=0, ends_at=NOW - 1)
    backfilled = silence.CreateSilence(silence=past.silence, at=NOW, backfill=True)
    [created] = silence.decide(backfilled, silence.initial_state("t1"))
    assert isinstance(created, silence.SilenceCreated)
    empty = attrs.evolve(backfilled, silence=attrs.evolve(past.silence, ends_at=0))
    assert problems(empty) == (("ends_at", "must be after starts_at"),)
