"""Admin jobs: every action taken in the admin console, recorded with who and when.

A job is started (who, what, with which parameters) and finished (succeeded or failed, with a
summary). Long work (a rules preview, a projection rebuild) runs between the two; a quick
action (a dead-letter redrive) is started and finished at once. One stream per scope: a
tenant's id, or ``PLATFORM`` for operators' platform-wide actions.

The rule for publishing rules from the console lives here too: a draft is published only
after its preview succeeded against the version in force now (``check_publishable``).
"""

from __future__ import annotations

import enum
import uuid
from typing import assert_never

import attrs

from helios.domain import identity
from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.values import Millis

PLATFORM = ""
"""The scope of platform-wide actions (operators'), outside every tenant."""
KEPT = 500
"""Jobs a scope's state keeps (the latest); the stream keeps every one for the audit log."""

Params = tuple[tuple[str, str], ...]


class JobKind(enum.Enum):
    RULES_PREVIEW = "rules.preview"
    DLQ_REDRIVE = "dlq.redrive"
    DLQ_PURGE = "dlq.purge"
    PROJECTIONS_REBUILD = "projections.rebuild"


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Job:
    job_id: str
    kind: JobKind
    by: str
    started_at: Millis
    params: Params = ()
    finished_at: Millis = 0
    outcome: Outcome | None = None
    summary: Params = ()

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)

    @property
    def running(self) -> bool:
        return self.outcome is None


@attrs.frozen(kw_only=True)
class Jobs:
    scope: str
    jobs: tuple[Job, ...] = ()

    def job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs if j.job_id == job_id), None)


def jobs_stream_id(scope: str) -> uuid.UUID:
    """The stream of a scope's admin jobs (a tenant id, or ``PLATFORM``)."""
    return identity.stream_id("admin-jobs", scope)


def initial_state(scope: str) -> Jobs:
    return Jobs(scope=scope)


# --------------------------------------------------------------------------- commands


@attrs.frozen(kw_only=True)
class StartJob:
    job_id: str
    kind: JobKind
    by: str
    at: Millis
    params: Params = ()


@attrs.frozen(kw_only=True)
class FinishJob:
    job_id: str
    outcome: Outcome
    at: Millis
    summary: Params = ()


JobCommand = StartJob | FinishJob

# --------------------------------------------------------------------------- events


@event("helios.admin.job_started.v1")
@attrs.frozen(kw_only=True)
class JobStarted:
    job_id: str
    kind: JobKind
    by: str
    at: Millis
    params: Params = ()


@event("helios.admin.job_finished.v1")
@attrs.frozen(kw_only=True)
class JobFinished:
    job_id: str
    outcome: Outcome
    at: Millis
    summary: Params = ()


JobEvent = JobStarted | JobFinished


def decide(command: JobCommand, state: Jobs) -> tuple[JobEvent, ...]:
    """Start a job, or finish a running one (finishing a finished job changes nothing).

    Raises:
        CommandRejected: a job id started twice, no actor, or finishing an unknown job.
    """
    match command:
        case StartJob(job_id=job_id, by=by):
            if not by:
                raise CommandRejected("invalid job", (("by", "who started it is required"),))
            if state.job(job_id) is not None:
                raise CommandRejected("invalid job", (("job_id", "already exists"),))
            return (
                JobStarted(
                    job_id=job_id,
                    kind=command.kind,
                    by=by,
                    at=command.at,
                    params=command.params,
                ),
            )
        case FinishJob(job_id=job_id):
            job = state.job(job_id)
            if job is None:
                raise CommandRejected("no such job", (("job_id", "unknown"),))
            if not job.running:
                return ()
            return (
                JobFinished(
                    job_id=job_id,
                    outcome=command.outcome,
                    at=command.at,
                    summary=command.summary,
                ),
            )
        case _:
            assert_never(command)


def evolve(state: Jobs, event: JobEvent) -> Jobs:
    match event:
        case JobStarted():
            job = Job(
                job_id=event.job_id,
                kind=event.kind,
                by=event.by,
                started_at=event.at,
                params=event.params,
            )
            return attrs.evolve(state, jobs=(*state.jobs[-(KEPT - 1) :], job))
        case JobFinished():
            return attrs.evolve(
                state,
                jobs=tuple(
                    attrs.evolve(
                        j, finished_at=event.at, outcome=event.outcome, summary=event.summary
                    )
                    if j.job_id == event.job_id
                    else j
                    for j in state.jobs
                ),
            )
        case _:
            assert_never(event)


def check_publishable(state: Jobs, *, job_id: str, version_in_force: int) -> Job:
    """The preview a draft is published from, if it may be: a rules preview of this scope
    that succeeded against the version still in force.

    Raises:
        CommandRejected: no such preview, one still running or failed, or another version
            was published since the preview (it would publish over rules it never compared).
    """
    job = state.job(job_id)
    if job is None or job.kind is not JobKind.RULES_PREVIEW:
        raise CommandRejected("preview first", (("preview", "no such rules preview"),))
    if job.outcome is not Outcome.SUCCEEDED:
        status = "still running" if job.running else "failed"
        raise CommandRejected("preview first", (("preview", f"the preview {status}"),))
    previewed = job.param("base_version")
    if previewed != str(version_in_force):
        raise CommandRejected(
            "rules changed since the preview",
            (
                (
                    "version",
                    f"previewed against version {previewed}, but version {version_in_force} "
                    "was published since: preview again",
                ),
            ),
        )
    return job
