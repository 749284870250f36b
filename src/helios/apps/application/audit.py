"""The audit log: every admin action, read from the events that recorded it.

For a tenant: its admin jobs (previews, dead-letter redrives, …), its rules publications (with
the rules before and after), its people's accounts (users created, roles changed, users
deactivated and reactivated, invitations sent, tokens revoked; a user acting is named by
their email), its integrations (created, keys and secrets rotated, revoked) and its feature
flags. For the platform: operators' jobs and the operators created and removed. Nothing is
kept beside the log: the audit log is a reading of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from helios.apps.application import rules_file
from helios.domain import access, admin_jobs, flags, operators, ruleset_stream, tenancy
from helios.domain.ruleset import DEFAULT_RULESET
from helios.domain.values import Millis
from helios.ports.event_store import EventStore

MAX_ENTRIES = 1_000


@attrs.frozen(kw_only=True)
class AuditEntry:
    at: Millis
    actor: str
    kind: str
    what: str
    before: str = ""
    after: str = ""


@attrs.frozen(kw_only=True)
class AuditFilter:
    actor: str | None = None
    kind: str | None = None
    since: Millis | None = None
    until: Millis | None = None

    def keeps(self, entry: AuditEntry) -> bool:
        return (
            (not self.actor or self.actor.casefold() in entry.actor.casefold())
            and (not self.kind or entry.kind.startswith(self.kind))
            and (self.since is None or entry.at >= self.since)
            and (self.until is None or entry.at <= self.until)
        )


def audit_log(
    store: EventStore, *, scope: str, where: AuditFilter | None = None
) -> tuple[AuditEntry, ...]:
    """A scope's admin actions (a tenant id, or ``admin_jobs.PLATFORM``), newest first, at
    most ``MAX_ENTRIES``.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    where = where or AuditFilter()
    entries = list(_jobs(store, scope))
    if scope == admin_jobs.PLATFORM:
        entries.extend(_operators(store))
    else:
        entries.extend(_rules(store, scope))
        entries.extend(_accounts(store, scope))
        entries.extend(_integrations(store, scope))
        entries.extend(_flags(store, scope))
    kept = sorted((e for e in entries if where.keeps(e)), key=lambda e: e.at, reverse=True)
    return tuple(kept[:MAX_ENTRIES])


def kinds(entries: Iterable[AuditEntry]) -> tuple[str, ...]:
    return tuple(sorted({e.kind for e in entries}))


def _params(params: admin_jobs.Params, *, leave_out: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{k}={v}" for k, v in params if k not in leave_out)


def _jobs(store: EventStore, scope: str) -> Iterator[AuditEntry]:
    started: dict[str, admin_jobs.JobStarted] = {}
    for recorded in store.read_stream(admin_jobs.jobs_stream_id(scope)):
        match recorded.event:
            case admin_jobs.JobStarted() as event:
                started[event.job_id] = event
                yield AuditEntry(
                    at=event.at,
                    actor=event.by,
                    kind=f"{event.kind.value}.started",
                    what=f"{event.job_id}: {_params(event.params, leave_out=('draft',))}",
                    # A preview's draft is the "after" of the rules it compares.
                    after=dict(event.params).get("draft", ""),
                )
            case admin_jobs.JobFinished() as event:
                start = started.get(event.job_id)
                yield AuditEntry(
                    at=event.at,
                    actor=start.by if start else "",
                    kind=f"{start.kind.value if start else 'job'}.{event.outcome.value}",
                    what=f"{event.job_id}: {_params(event.summary)}",
                )


def _rules(store: EventStore, tenant: str) -> Iterator[AuditEntry]:
    before = rules_file.dumps(DEFAULT_RULESET)
    for recorded in store.read_stream(ruleset_stream.ruleset_stream_id(tenant)):
        event = recorded.event
        if isinstance(event, ruleset_stream.RulesetPublished):
            after = rules_file.dumps(event.ruleset)
            yield AuditEntry(
                at=event.at,
                actor=event.by,
                kind="rules.published",
                what=f"version {event.ruleset.version}",
                before=before,
                after=after,
            )
            before = after


def _accounts(store: EventStore, tenant: str) -> Iterator[AuditEntry]:
    emails: dict[str, str] = {}
    roles: dict[str, str] = {}

    def entry(event: access.AccessEvent, kind: str, what: str, **change: str) -> AuditEntry:
        by = getattr(event, "by", "")
        return AuditEntry(at=event.at, actor=emails.get(by, by), kind=kind, what=what, **change)

    for recorded in store.read_stream(access.access_stream_id(tenant)):
        match recorded.event:
            case access.UserCreated() as event:
                emails[event.user_id] = event.email
                roles[event.user_id] = event.role.value
                what = f"{event.email} ({event.user_id})"
                yield entry(event, "user.created", what, after=event.role.value)
            case access.RoleChanged() as event:
                what = emails.get(event.user_id, event.user_id)
                before = roles.get(event.user_id, "")
                yield entry(event, "user.role_changed", what, before=before, after=event.role.value)
                roles[event.user_id] = event.role.value
            case access.UserDeactivated() as event:
                yield entry(event, "user.deactivated", emails.get(event.user_id, event.user_id))
            case access.UserReactivated() as event:
                yield entry(event, "user.reactivated", emails.get(event.user_id, event.user_id))
            case access.LinkIssued() as event if event.by:
                # Each one sent on someone's behalf: with the user's creation, or again later.
                what = emails.get(event.user_id, event.user_id)
                yield entry(event, f"user.{event.purpose.value}_sent", what)
            case access.TokenRevoked() as event if event.by:
                yield entry(event, "token.revoked", event.token_id)


def _integrations(store: EventStore, tenant: str) -> Iterator[AuditEntry]:
    names: dict[str, str] = {}
    for recorded in store.read_stream(tenancy.tenant_stream_id(tenant)):
        event = recorded.event
        match event:
            case tenancy.IntegrationCreated():
                names[event.integration_id] = event.name
                kind, what = "integration.created", f"{event.kind.value} {event.name}"
            case tenancy.RoutingKeyRotated():
                kind, what = "integration.key_rotated", "routing key"
            case tenancy.SigningSecretRotated():
                kind, what = "integration.secret_rotated", "signing secret"
            case tenancy.IntegrationRevoked():
                kind, what = "integration.revoked", ""
            case _:
                continue
        name = names.get(event.integration_id, "")
        yield AuditEntry(
            at=event.at,
            actor=getattr(event, "by", ""),
            kind=kind,
            what=f"{event.integration_id} ({name}){': ' + what if what else ''}",
        )


def _flags(store: EventStore, tenant: str) -> Iterator[AuditEntry]:
    for recorded in store.read_stream(flags.flags_stream_id(tenant)):
        event = recorded.event
        match event:
            case flags.FlagDefined():
                kind, after = "flag.defined", "off"
            case flags.FlagSwitched():
                kind, after = "flag.switched", "on" if event.enabled else "off"
            case flags.RolloutSet():
                kind, after = "flag.rollout", f"{event.percent}%"
            case _:
                continue
        yield AuditEntry(at=event.at, actor=event.by, kind=kind, what=event.name, after=after)


def _operators(store: EventStore) -> Iterator[AuditEntry]:
    for recorded in store.read_stream(operators.STREAM):
        match recorded.event:
            case operators.OperatorCreated() as event:
                yield AuditEntry(
                    at=event.at, actor=event.by, kind="operator.created", what=event.name
                )
            case operators.OperatorRemoved() as event:
                yield AuditEntry(
                    at=event.at, actor=event.by, kind="operator.removed", what=event.name
                )
