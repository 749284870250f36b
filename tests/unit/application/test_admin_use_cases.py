"""The admin console's use cases over an in-memory store: operators, the job runner, rule
previews and publishing what was previewed, the audit log."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from helios.adapters.memory.limits import InMemoryRateLimiter
from helios.adapters.store.factory import open_event_store
from helios.apps.application import rules_review
from helios.apps.application.access import InvalidCredentials, LoginLocked, LoginPolicy
from helios.apps.application.audit import AuditFilter, audit_log
from helios.apps.application.jobs import Advance, JobRunner
from helios.apps.application.operators import OperatorLogin, OperatorService
from helios.apps.application.rules_file import RulesFileError
from helios.domain.admin_jobs import PLATFORM, JobKind, Outcome
from helios.domain.errors import CommandRejected
from helios.ports.event_store import EventStore

T0 = 1_700_000_000_000
PASSWORD = "correct horse battery"


@pytest.fixture
def store() -> Iterator[EventStore]:
    opened = open_event_store("memory://")
    yield opened
    opened.close()


@pytest.fixture
def runner(store: EventStore) -> Iterator[JobRunner]:
    made = JobRunner(store, clock=lambda: T0)
    yield made
    made.close()


def test_an_operator_signs_in_and_out_with_a_session_token(store: EventStore) -> None:
    service = OperatorService(store, clock=lambda: T0)
    service.create(name="alice", password=PASSWORD, by="cli:root")
    signed = service.sign_in(name="alice", password=PASSWORD)
    assert signed.token.startswith("hxo.")
    assert service.authenticate(signed.token) == "alice"
    assert service.authenticate(signed.token[:-1] + "x") is None
    service.sign_out(signed.token)
    assert service.authenticate(signed.token) is None


def test_a_wrong_operator_password_or_name_is_one_refusal(store: EventStore) -> None:
    service = OperatorService(store)
    service.create(name="alice", password=PASSWORD, by="cli:root")
    for name, password in (("alice", "wrong password!"), ("bob", PASSWORD)):
        with pytest.raises(InvalidCredentials, match="wrong name or password"):
            service.sign_in(name=name, password=password)


def test_a_removed_operators_session_stops_working(store: EventStore) -> None:
    service = OperatorService(store)
    service.create(name="alice", password=PASSWORD, by="cli:root")
    signed = service.sign_in(name="alice", password=PASSWORD)
    service.remove(name="alice", by="cli:root")
    assert service.authenticate(signed.token) is None
    assert service.list() == ()


def test_a_failing_job_is_recorded_as_failed_with_its_error(runner: JobRunner) -> None:
    def work(advance: object) -> tuple[tuple[tuple[str, str], ...], None]:
        raise RuntimeError("disk on fire")

    job_id = runner.start(
        scope="ten_1", kind=JobKind.PROJECTIONS_REBUILD, by="ana", params=(), work=work
    )
    runner.wait(10)
    job = runner.job("ten_1", job_id)
    assert job is not None and job.outcome is Outcome.FAILED
    assert dict(job.summary)["error"] == "disk on fire"
    assert runner.job("ten_2", job_id) is None


def test_a_preview_of_an_invalid_draft_starts_no_job(store: EventStore, runner: JobRunner) -> None:
    with pytest.raises(RulesFileError) as refused:
        rules_review.start_preview(
            runner, store, tenant="ten_1", draft="[scoring]\nnope = 1\n", by="ana"
        )
    assert refused.value.problems[0].field == "scoring.nope"
    with pytest.raises(CommandRejected, match="invalid preview"):
        rules_review.start_preview(runner, store, tenant="ten_1", draft="", by="ana", days=0)
    assert runner.jobs("ten_1") == ()


def test_a_previewed_draft_is_published_once_as_the_next_version(
    store: EventStore, runner: JobRunner
) -> None:
    draft = "[scoring]\nrecurrence_points = 3\n"
    job_id = rules_review.start_preview(
        runner, store, tenant="ten_1", draft=draft, by="ana", clock=lambda: T0
    )
    runner.wait(30)
    assert dict(runner.job("ten_1", job_id).summary)["inputs"] == "0"  # type: ignore[union-attr]
    version = rules_review.publish_previewed(
        store, tenant="ten_1", job_id=job_id, by="ana", clock=lambda: T0 + 1
    )
    assert version == 1
    # The same preview again: version 1 is in force now, not the 0 it was compared with.
    with pytest.raises(CommandRejected, match="rules changed since the preview"):
        rules_review.publish_previewed(store, tenant="ten_1", job_id=job_id, by="ana")
    # Another tenant cannot publish this tenant's preview.
    with pytest.raises(CommandRejected, match="preview first"):
        rules_review.publish_previewed(store, tenant="ten_2", job_id=job_id, by="eve")
    versions = rules_review.history(store, tenant="ten_1")
    assert [v.version for v in versions] == [0, 1]
    assert versions[1].ruleset.recurrence_points == 3 and versions[1].by == "ana"
    diff = rules_review.diff(versions, old=0, new=1)
    assert "-recurrence_points = 2" in diff and "+recurrence_points = 3" in diff
    with pytest.raises(CommandRejected, match="no such version"):
        rules_review.diff(versions, old=0, new=7)


def test_the_audit_log_shows_who_published_what_with_the_rules_before_and_after(
    store: EventStore, runner: JobRunner
) -> None:
    job_id = rules_review.start_preview(
        runner, store, tenant="ten_1", draft="[scoring]\nrecurrence_points = 3\n", by="ana"
    )
    runner.wait(30)
    rules_review.publish_previewed(store, tenant="ten_1", job_id=job_id, by="ana", clock=lambda: T0)
    entries = audit_log(store, scope="ten_1")
    kinds = [e.kind for e in entries]
    assert "rules.published" in kinds and "rules.preview.started" in kinds
    published = next(e for e in entries if e.kind == "rules.published")
    assert published.actor == "ana"
    assert "recurrence_points = 2" in published.before
    assert "recurrence_points = 3" in published.after
    assert audit_log(store, scope="ten_2") == ()
    assert audit_log(store, scope="ten_1", where=AuditFilter(actor="bob")) == ()
    assert all(
        e.kind.startswith("rules.published")
        for e in audit_log(store, scope="ten_1", where=AuditFilter(kind="rules.published"))
    )


def test_operators_actions_are_in_the_platform_audit_log(store: EventStore) -> None:
    OperatorService(store).create(name="alice", password=PASSWORD, by="cli:root")
    entries = audit_log(store, scope=PLATFORM)
    assert [(e.kind, e.actor, e.what) for e in entries] == [
        ("operator.created", "cli:root", "alice")
    ]


def test_an_operator_is_locked_out_after_too_many_failures_from_one_address(
    store: EventStore,
) -> None:
    """Three failures from one address, then even the right password is refused there."""
    service = OperatorService(store, clock=lambda: T0)
    service.create(name="alice", password=PASSWORD, by="cli:root")
    logins = OperatorLogin(
        service,
        InMemoryRateLimiter(),
        policy=LoginPolicy(max_failures=3, lockout_ms=900_000),
        clock=lambda: T0,
    )

    async def attempts() -> list[str]:
        outcomes = []
        for password, client in [("wrong password!", "10.0.0.1")] * 4 + [
            (PASSWORD, "10.0.0.1"),
            (PASSWORD, "10.0.0.2"),
        ]:
            try:
                await logins.sign_in(name="alice", password=password, client=client)
                outcomes.append("signed in")
            except InvalidCredentials:
                outcomes.append("wrong")
            except LoginLocked:
                outcomes.append("locked")
        return outcomes

    assert asyncio.run(attempts()) == [
        "wrong",
        "wrong",
        "wrong",
        "locked",
        "locked",
        "signed in",
    ]


def test_a_running_jobs_progress_is_readable_while_it_runs(runner: JobRunner) -> None:
    halfway, release = threading.Event(), threading.Event()

    def work(advance: Advance) -> tuple[tuple[tuple[str, str], ...], str]:
        advance(5, 10)
        halfway.set()
        release.wait(10)
        return (("done", "yes"),), "the result"

    job_id = runner.start(scope="ten_1", kind=JobKind.RULES_PREVIEW, by="ana", params=(), work=work)
    assert halfway.wait(10)
    progress = runner.progress(job_id)
    assert progress is not None and progress.percent == 50
    assert runner.job("ten_1", job_id).running  # type: ignore[union-attr]
    release.set()
    runner.wait(10)
    assert runner.result(job_id) == "the result"
    assert runner.progress(job_id).percent == 100  # type: ignore[union-attr]
    assert dict(runner.job("ten_1", job_id).summary) == {"done": "yes"}  # type: ignore[union-attr]


def test_the_audit_log_names_who_changed_integrations_flags_and_users(store: EventStore) -> None:
    """Integrations created, rotated and revoked, flags changed and users deactivated and
    reactivated are all read back with who and when (a user acting is named by email)."""
    from helios.apps.application import flags as flag_cases
    from helios.apps.application.access import AccessService
    from helios.apps.application.tenancy import TenancyService
    from helios.apps.composition import memory_vault
    from helios.domain.access import Role
    from helios.domain.values import SourceKind

    tenancy = TenancyService(store, clock=lambda: T0, secrets=memory_vault())
    tenant = tenancy.create_tenant("acme").tenant_id
    issued = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.GENERIC, by="ana")
    integration = issued.integration.integration_id
    tenancy.rotate_routing_key(integration_id=integration, grace_ms=60_000, by="ana")
    tenancy.rotate_signing_secret(integration_id=integration, by="bob")
    tenancy.revoke_integration(integration_id=integration, by="bob")
    flag_cases.set_flag(
        store, tenant=tenant, name="no_incident_grouping", enabled=True, by="cy", at=T0
    )
    access = AccessService(store, clock=lambda: T0)
    owner = access.create_user(tenant_id=tenant, email="o@acme.example", role=Role.OWNER)
    user = access.create_user(tenant_id=tenant, email="v@acme.example", role=Role.VIEWER)
    access.set_active(tenant_id=tenant, user_id=user.user_id, active=False, by=owner.user_id)
    access.set_active(tenant_id=tenant, user_id=user.user_id, active=True, by=owner.user_id)
    access.invite(tenant_id=tenant, email="i@acme.example", role=Role.VIEWER, by=owner.user_id)

    found = {(e.kind, e.actor) for e in audit_log(store, scope=tenant)}
    assert {
        ("integration.created", "ana"),
        ("integration.key_rotated", "ana"),
        ("integration.secret_rotated", "bob"),
        ("integration.revoked", "bob"),
        ("flag.defined", "cy"),
        ("flag.switched", "cy"),
        ("user.deactivated", "o@acme.example"),
        ("user.reactivated", "o@acme.example"),
        ("user.invitation_sent", "o@acme.example"),
    } <= found
    assert audit_log(store, scope="ten_other") == ()


def test_an_integration_is_found_only_in_its_own_tenant(store: EventStore) -> None:
    """Integration ids are global: a tenant's admin acting on another's is told it is unknown."""
    from helios.apps.application import integrations
    from helios.apps.application.tenancy import TenancyService
    from helios.domain.values import SourceKind

    tenancy = TenancyService(store, clock=lambda: T0)
    mine, theirs = (tenancy.create_tenant(name).tenant_id for name in ("mine", "theirs"))
    issued = tenancy.create_integration(tenant_id=theirs, kind=SourceKind.ALERTMANAGER)
    integration_id = issued.integration.integration_id
    found = integrations.of_tenant(tenancy, tenant=theirs, integration_id=integration_id)
    assert found.integration_id == integration_id
    with pytest.raises(integrations.NoSuchIntegration):
        integrations.of_tenant(tenancy, tenant=mine, integration_id=integration_id)
