"""The incident decider's rule for notes: 1 to 4096 characters, not only blanks."""

from __future__ import annotations

import pytest

from helios.domain import incident
from helios.domain.errors import CommandRejected


def note(text: str) -> incident.AddNote:
    return incident.AddNote(incident_id="inc-1", author="ana@acme.example", text=text, at=5)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * 4097])
def test_a_blank_or_overlong_note_is_refused_naming_its_text(text: str) -> None:
    with pytest.raises(CommandRejected) as rejected:
        incident.decide(note(text), incident.initial_state("t1", "service=db"))
    assert rejected.value.message == "invalid note"
    assert rejected.value.problems == (("text", "must be 1..4096 chars"),)


@pytest.mark.parametrize("text", ["x", "a note", "x" * 4096])
def test_a_note_of_1_to_4096_characters_is_recorded(text: str) -> None:
    [added] = incident.decide(note(text), incident.initial_state("t1", "service=db"))
    assert added == incident.IncidentNoteAdded(
        incident_id="inc-1", author="ana@acme.example", text=text, at=5
    )


def test_the_rule_can_be_checked_before_the_incident_is_looked_up() -> None:
    """``check_note`` is the decider's own rule, for a caller that refuses early."""
    with pytest.raises(CommandRejected):
        incident.check_note(" ")
    incident.check_note("ok")
