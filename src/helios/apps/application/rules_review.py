"""Reviewing rule changes: preview a draft against recorded history, publish what was
previewed, read the versions published and compare two of them.

A draft is a TOML rules file (``rules_file``). Its preview is a what-if (``replay.whatif``) of
the tenant's last N days, run as an admin job; the job records the draft and the version in
force it was compared with. Publishing names that job: the draft is published as the next
version only if no other version was published since (``admin_jobs.check_publishable``), so
nobody publishes rules whose effect they have not seen. The CLI, the admin console and tests
share these use cases.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import attrs

from helios.apps.application import rules_file
from helios.apps.application.jobs import JOBS, Advance, JobRunner
from helios.apps.application.replay.log import Window
from helios.apps.application.replay.whatif import WhatIfReport, what_if
from helios.apps.application.repository import RULESET, Repository
from helios.apps.application.tenancy import wall_clock_ms
from helios.domain import admin_jobs, ruleset_stream
from helios.domain.admin_jobs import JobKind, Params
from helios.domain.errors import CommandRejected
from helios.domain.ruleset import DEFAULT_RULESET, Ruleset
from helios.domain.values import Millis
from helios.ports.event_store import EventStore

DAY_MS = 24 * 3600 * 1000
DEFAULT_DAYS = 7
MAX_DAYS = 90


@attrs.frozen(kw_only=True)
class PublishedVersion:
    """One version of a tenant's rules as published (version 0: the built-in defaults)."""

    version: int
    at: Millis
    by: str
    ruleset: Ruleset

    @property
    def toml(self) -> str:
        return rules_file.dumps(self.ruleset)


def validate_draft(text: str) -> Ruleset:
    """The ruleset a TOML draft describes.

    Raises:
        RulesFileError: each problem names its field (and line when it can be found).
    """
    return rules_file.loads(text)


def start_preview(
    runner: JobRunner,
    store: EventStore,
    *,
    tenant: str,
    draft: str,
    by: str,
    days: int = DEFAULT_DAYS,
    clock: Callable[[], Millis] = wall_clock_ms,
) -> str:
    """Start a preview job of a draft over the tenant's last ``days`` days; returns its id.

    Raises:
        RulesFileError: the draft is not a valid rules file.
        CommandRejected: ``days`` outside 1..``MAX_DAYS``.
        StoreUnavailable: the store cannot be reached.
    """
    if not 1 <= days <= MAX_DAYS:
        raise CommandRejected("invalid preview", (("days", f"must be 1..{MAX_DAYS}"),))
    ruleset = validate_draft(draft)
    in_force = Repository(store).load(RULESET, tenant)[0].current.version
    ruleset = attrs.evolve(ruleset, version=in_force + 1)
    now = clock()
    window = Window(tenant=tenant, since=now - days * DAY_MS, until=now)
    params: Params = (
        ("draft", draft),
        ("base_version", str(in_force)),
        ("days", str(days)),
        ("since", str(window.since)),
        ("until", str(window.until)),
    )

    def work(advance: Advance) -> tuple[Params, WhatIfReport]:
        report = what_if(store, rules=ruleset, window=window, progress=advance)
        return preview_summary(report), report

    return runner.start(scope=tenant, kind=JobKind.RULES_PREVIEW, by=by, params=params, work=work)


def preview_summary(report: WhatIfReport) -> Params:
    """What the log keeps of a preview: its counts (the full report stays with the runner)."""
    return (
        ("inputs", str(report.inputs)),
        ("alerts", str(report.alerts)),
        ("changes", str(len(report.changes))),
        ("would_notify", str(len(report.would_notify))),
        ("would_not_notify", str(len(report.would_not_notify))),
        *((f"before.{p}", str(n)) for p, n in report.before.items()),
        *((f"after.{p}", str(n)) for p, n in report.after.items()),
        ("elapsed_s", f"{report.elapsed_s:.2f}"),
    )


def publish_previewed(
    store: EventStore,
    *,
    tenant: str,
    job_id: str,
    by: str,
    clock: Callable[[], Millis] = wall_clock_ms,
) -> int:
    """Publish the draft a preview job compared, as the next version; returns the version.

    Raises:
        CommandRejected: no such succeeded preview of this tenant, or another version was
            published since it (preview again).
        ConcurrencyConflict: the rules kept changing under us.
        StoreUnavailable: the store cannot be reached.
    """
    repository = Repository(store)
    jobs = repository.load(JOBS, tenant)[0]

    def decide(state: ruleset_stream.TenantRules) -> tuple[ruleset_stream.RulesetPublished, ...]:
        # Checked against the stream's state as loaded for this append: a concurrent publish
        # makes the append conflict, and the retry sees the newer version and refuses.
        job = admin_jobs.check_publishable(
            jobs, job_id=job_id, version_in_force=state.current.version
        )
        draft = validate_draft(job.param("draft") or "")
        ruleset = attrs.evolve(draft, version=state.current.version + 1)
        return ruleset_stream.decide(
            ruleset_stream.PublishRuleset(ruleset=ruleset, at=clock(), by=by), state
        )

    state, _ = repository.execute(RULESET, tenant, decide)
    return state.current.version


def history(store: EventStore, *, tenant: str) -> tuple[PublishedVersion, ...]:
    """Every version of a tenant's rules, the built-in defaults (version 0) first.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    versions = [PublishedVersion(version=0, at=0, by="", ruleset=DEFAULT_RULESET)]
    for recorded in store.read_stream(ruleset_stream.ruleset_stream_id(tenant)):
        event = recorded.event
        if isinstance(event, ruleset_stream.RulesetPublished):
            versions.append(
                PublishedVersion(
                    version=event.ruleset.version, at=event.at, by=event.by, ruleset=event.ruleset
                )
            )
    return tuple(versions)


def diff(versions: tuple[PublishedVersion, ...], *, old: int, new: int) -> tuple[str, ...]:
    """The lines of a unified diff between two versions' TOML (empty: the same rules).

    Raises:
        CommandRejected: a version that was never published.
    """
    by_number = {v.version: v for v in versions}
    problems = tuple(
        (name, "no such version") for name, n in (("old", old), ("new", new)) if n not in by_number
    )
    if problems:
        raise CommandRejected("no such version", problems)
    before, after = by_number[old], by_number[new]
    return tuple(
        difflib.unified_diff(
            _comparable(before.toml),
            _comparable(after.toml),
            fromfile=f"version {old}",
            tofile=f"version {new}",
            lineterm="",
        )
    )


def _comparable(toml: str) -> list[str]:
    # The version line always differs; it says nothing about what the rules do.
    return [line for line in toml.splitlines() if not line.startswith("version = ")]
