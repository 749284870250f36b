"""Admin jobs: record every admin action, and run the long ones in the background.

``JobRunner.start`` records ``JobStarted`` (who, what, when, parameters) and runs the work on
its own worker thread, never inside a request; the work reports progress, which the runner
keeps in a table in memory for the pages that poll it; when the work ends, ``JobFinished`` is
recorded with its outcome and a summary. ``JobRunner.act`` records a quick action the same way,
started and finished at once. The event log is the record (the audit log reads it); progress
and full results are held only by the process that runs the job.

Embedded default: one runner thread in the admin (or ``helios up``) process. In production
each admin process runs its own jobs the same way; a job is shown with its progress by the
process that started it, and by every process from the log once finished.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.to_thread
import attrs
import structlog

from helios.apps.application.repository import Kind, Repository
from helios.apps.application.tenancy import wall_clock_ms
from helios.domain import admin_jobs
from helios.domain.admin_jobs import JobKind, Outcome, Params
from helios.domain.values import Millis
from helios.ports.event_store import EventStore

JOBS: Kind[str, admin_jobs.Jobs] = Kind(
    name="admin-jobs",
    stream=admin_jobs.jobs_stream_id,
    initial=admin_jobs.initial_state,
    evolve=admin_jobs.evolve,
)
"""A scope's admin jobs, by scope (a tenant id, or ``admin_jobs.PLATFORM``)."""

RESULTS_KEPT = 50
_log = structlog.get_logger("helios.admin.jobs")

Advance = Callable[[int, int], None]
"""Progress of a job: (done, total)."""
Work = Callable[[Advance], tuple[Params, Any]]
"""A job's work: given a progress callback, returns its summary and its full result."""


@attrs.define
class Progress:
    done: int = 0
    total: int = 0

    @property
    def percent(self) -> int:
        return 0 if self.total <= 0 else min(100, self.done * 100 // self.total)


class JobRunner:
    """Runs admin jobs on a worker thread and records them in the log (see the module)."""

    def __init__(
        self, store: EventStore, *, clock: Callable[[], Millis] = wall_clock_ms, workers: int = 1
    ) -> None:
        self._repository = Repository(store)
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="helios-admin-job")
        self._lock = threading.Lock()
        self._progress: dict[str, Progress] = {}
        self._results: OrderedDict[str, Any] = OrderedDict()

    def start(self, *, scope: str, kind: JobKind, by: str, params: Params, work: Work) -> str:
        """Record a job as started and run ``work`` in the background; returns the job id.

        Raises:
            CommandRejected: no actor given.
            StoreUnavailable: the store cannot be reached (nothing was started).
        """
        job_id = self._record_start(scope, kind, by, params)
        with self._lock:
            self._progress[job_id] = Progress()
        self._pool.submit(self._run, scope, job_id, work)
        return job_id

    def act(self, *, scope: str, kind: JobKind, by: str, params: Params, work: Work) -> Any:
        """Record a quick action as a job started and finished around ``work``, run here;
        returns its result (a failure is recorded, then raised).

        Raises:
            CommandRejected: no actor given.
            StoreUnavailable: the store cannot be reached.
            Exception: whatever ``work`` raised.
        """
        job_id = self._record_start(scope, kind, by, params)
        try:
            summary, result = work(lambda done, total: None)
        except BaseException as error:
            self._finish(scope, job_id, Outcome.FAILED, (("error", str(error) or repr(error)),))
            raise
        self._finish(scope, job_id, Outcome.SUCCEEDED, summary)
        return result

    async def act_async(
        self,
        *,
        scope: str,
        kind: JobKind,
        by: str,
        params: Params,
        work: Callable[[], Awaitable[tuple[Params, Any]]],
    ) -> Any:
        """``act`` for work that awaits (a queue's): the records are written off the event loop.

        Raises:
            CommandRejected: no actor given.
            StoreUnavailable: the store cannot be reached.
            Exception: whatever ``work`` raised.
        """
        job_id = await anyio.to_thread.run_sync(lambda: self._record_start(scope, kind, by, params))
        try:
            summary, result = await work()
        except BaseException as error:
            failed = (("error", str(error) or repr(error)),)
            await anyio.to_thread.run_sync(
                lambda: self._finish(scope, job_id, Outcome.FAILED, failed)
            )
            raise
        await anyio.to_thread.run_sync(
            lambda: self._finish(scope, job_id, Outcome.SUCCEEDED, summary)
        )
        return result

    def jobs(self, scope: str) -> tuple[admin_jobs.Job, ...]:
        """A scope's recent jobs, newest first.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return tuple(reversed(self._repository.load(JOBS, scope)[0].jobs))

    def job(self, scope: str, job_id: str) -> admin_jobs.Job | None:
        """One job of a scope (None: not this scope's, or unknown).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        return self._repository.load(JOBS, scope)[0].job(job_id)

    def progress(self, job_id: str) -> Progress | None:
        """How far a job run by this process went (None: not run here)."""
        with self._lock:
            return self._progress.get(job_id)

    def result(self, job_id: str) -> Any:
        """The full result of a job this process ran (None: not run here, not kept, failed)."""
        with self._lock:
            return self._results.get(job_id)

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait until the jobs submitted so far have finished (tests, the CLI)."""
        self._pool.submit(lambda: None).result(timeout=timeout_s)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _record_start(self, scope: str, kind: JobKind, by: str, params: Params) -> str:
        job_id = "job_" + uuid.uuid4().hex[:16]
        command = admin_jobs.StartJob(
            job_id=job_id, kind=kind, by=by, at=self._clock(), params=params
        )
        self._repository.execute(JOBS, scope, lambda state: admin_jobs.decide(command, state))
        _log.info("admin job started", job_id=job_id, kind=kind.value, by=by, scope=scope)
        return job_id

    def _run(self, scope: str, job_id: str, work: Work) -> None:
        def advance(done: int, total: int) -> None:
            with self._lock:
                self._progress[job_id] = Progress(done=done, total=total)

        try:
            summary, result = work(advance)
        # A job's failure, whatever it is, is recorded as its outcome: the thread must not die
        # with the job left running in the log.
        except Exception as error:
            # Recorded first: the record matters more than the log line.
            self._finish(scope, job_id, Outcome.FAILED, (("error", str(error) or repr(error)),))
            _log.exception("admin job failed", job_id=job_id)
            return
        with self._lock:
            self._results[job_id] = result
            while len(self._results) > RESULTS_KEPT:
                self._results.popitem(last=False)
            progress = self._progress.get(job_id, Progress())
            self._progress[job_id] = Progress(done=progress.total, total=progress.total)
        self._finish(scope, job_id, Outcome.SUCCEEDED, summary)

    def _finish(self, scope: str, job_id: str, outcome: Outcome, summary: Params) -> None:
        command = admin_jobs.FinishJob(
            job_id=job_id, outcome=outcome, at=self._clock(), summary=summary
        )
        try:
            self._repository.execute(JOBS, scope, lambda state: admin_jobs.decide(command, state))
        except Exception:
            # Nothing else can record it: say so in the logs rather than kill the worker.
            _log.exception("admin job outcome not recorded", job_id=job_id)
            return
        _log.info("admin job finished", job_id=job_id, outcome=outcome.value)
