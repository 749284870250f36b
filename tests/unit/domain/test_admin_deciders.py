"""Given/When/Then on the operators and admin-jobs deciders: what they refuse, what the state
becomes, and the rule that only a preview made against the rules in force is published."""

from __future__ import annotations

import pytest

from helios.domain import admin_jobs, operators
from helios.domain.admin_jobs import JobKind, Outcome
from helios.domain.errors import CommandRejected


def given_operators(*events: operators.OperatorEvent) -> operators.Operators:
    state = operators.initial_state()
    for event in events:
        state = operators.evolve(state, event)
    return state


def given_jobs(*events: admin_jobs.JobEvent) -> admin_jobs.Jobs:
    state = admin_jobs.initial_state("ten_1")
    for event in events:
        state = admin_jobs.evolve(state, event)
    return state


ALICE = operators.OperatorCreated(name="alice", password_hash="h", at=1, by="cli:root")
SESSION = operators.OperatorSessionStarted(
    name="alice", token_id="ops_1", token_hash="th", at=2, expires_at=100
)
PREVIEW = admin_jobs.JobStarted(
    job_id="job_1",
    kind=JobKind.RULES_PREVIEW,
    by="ana@acme.example",
    at=10,
    params=(("draft", "version = 1\n"), ("base_version", "0")),
)
PREVIEWED = admin_jobs.JobFinished(job_id="job_1", outcome=Outcome.SUCCEEDED, at=20)


@pytest.mark.parametrize("name", ["A", "x", "Alice", "1abc", "a b", "a" * 65])
def test_a_malformed_operator_name_is_refused(name: str) -> None:
    command = operators.CreateOperator(name=name, password_hash="h", at=1)
    with pytest.raises(CommandRejected) as refused:
        operators.decide(command, given_operators())
    assert refused.value.problems[0][0] == "name"


def test_an_operator_name_is_taken_once() -> None:
    command = operators.CreateOperator(name="alice", password_hash="h", at=3)
    with pytest.raises(CommandRejected, match="invalid operator"):
        operators.decide(command, given_operators(ALICE))


def test_removing_an_operator_ends_their_sessions() -> None:
    removed = operators.decide(
        operators.RemoveOperator(name="alice", at=5, by="cli:root"), given_operators(ALICE, SESSION)
    )
    state = given_operators(ALICE, SESSION, *removed)
    assert state.get("alice") is None
    session = state.session("ops_1")
    assert session is not None and not session.valid(6)


def test_a_session_is_valid_until_it_expires_or_ends() -> None:
    state = given_operators(ALICE, SESSION)
    session = state.session("ops_1")
    assert session is not None and session.valid(99) and not session.valid(100)
    ended = operators.decide(operators.EndOperatorSession(token_id="ops_1", at=50), state)
    after = given_operators(ALICE, SESSION, *ended)
    assert not after.session("ops_1").valid(51)  # type: ignore[union-attr]
    # Ending it again changes nothing.
    assert operators.decide(operators.EndOperatorSession(token_id="ops_1", at=60), after) == ()


def test_a_session_of_an_unknown_operator_is_refused() -> None:
    command = operators.StartOperatorSession(
        name="bob", token_id="ops_2", token_hash="t", at=1, expires_at=9
    )
    with pytest.raises(CommandRejected, match="no such operator"):
        operators.decide(command, given_operators(ALICE))


def test_a_job_needs_someone_who_started_it() -> None:
    command = admin_jobs.StartJob(job_id="job_2", kind=JobKind.DLQ_REDRIVE, by="", at=1)
    with pytest.raises(CommandRejected) as refused:
        admin_jobs.decide(command, given_jobs())
    assert refused.value.problems == (("by", "who started it is required"),)


def test_a_job_finishes_once() -> None:
    finish = admin_jobs.FinishJob(job_id="job_1", outcome=Outcome.FAILED, at=30)
    assert admin_jobs.decide(finish, given_jobs(PREVIEW, PREVIEWED)) == ()
    job = given_jobs(PREVIEW, PREVIEWED).job("job_1")
    assert job is not None and job.outcome is Outcome.SUCCEEDED and job.finished_at == 20


def test_a_succeeded_preview_against_the_rules_in_force_is_publishable() -> None:
    job = admin_jobs.check_publishable(
        given_jobs(PREVIEW, PREVIEWED), job_id="job_1", version_in_force=0
    )
    assert job.param("draft") == "version = 1\n"


@pytest.mark.parametrize(
    ("events", "in_force", "message"),
    [
        ((), 0, "no such rules preview"),
        ((PREVIEW,), 0, "the preview still running"),
        (
            (PREVIEW, admin_jobs.JobFinished(job_id="job_1", outcome=Outcome.FAILED, at=20)),
            0,
            "the preview failed",
        ),
        ((PREVIEW, PREVIEWED), 1, "previewed against version 0, but version 1 was published"),
    ],
)
def test_a_draft_is_not_publishable_without_a_current_succeeded_preview(
    events: tuple[admin_jobs.JobEvent, ...], in_force: int, message: str
) -> None:
    with pytest.raises(CommandRejected) as refused:
        admin_jobs.check_publishable(given_jobs(*events), job_id="job_1", version_in_force=in_force)
    assert message in refused.value.problems[0][1]


def test_another_kind_of_job_is_not_a_preview() -> None:
    redrive = admin_jobs.JobStarted(job_id="job_1", kind=JobKind.DLQ_REDRIVE, by="x", at=1)
    done = admin_jobs.JobFinished(job_id="job_1", outcome=Outcome.SUCCEEDED, at=2)
    with pytest.raises(CommandRejected, match="preview first"):
        admin_jobs.check_publishable(given_jobs(redrive, done), job_id="job_1", version_in_force=0)


def test_a_scope_keeps_only_its_latest_jobs_in_state() -> None:
    events = [
        admin_jobs.JobStarted(job_id=f"job_{n}", kind=JobKind.DLQ_REDRIVE, by="x", at=n)
        for n in range(admin_jobs.KEPT + 5)
    ]
    state = given_jobs(*events)
    assert len(state.jobs) == admin_jobs.KEPT
    assert state.jobs[0].job_id == "job_5"
