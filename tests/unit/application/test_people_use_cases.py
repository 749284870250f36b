"""The use cases behind the people's API, over an in-memory store: load, decide, append."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helios.adapters.store.factory import open_event_store
from helios.apps.application import rules, silences
from helios.apps.application.access import AccessService, Caller, TokenAuthenticator
from helios.apps.application.accounts import Accounts, NoSuchToken
from helios.apps.application.tenancy import TenancyService
from helios.domain import access
from helios.domain.access import Role
from helios.domain.errors import CommandRejected
from helios.domain.patterns import RegexEngine
from helios.domain.ruleset import LabelMatcher, MatchOp, Ruleset
from helios.ports.event_store import EventStore

T0 = 1_700_000_000_000
DB = (LabelMatcher(name="service", op=MatchOp.EQ, value="db"),)


@pytest.fixture
def store() -> Iterator[EventStore]:
    opened = open_event_store("memory://")
    yield opened
    opened.close()


def test_a_silence_starts_when_it_is_created_unless_told_otherwise(store: EventStore) -> None:
    made = silences.create_silence(
        store,
        tenant="t1",
        matchers=DB,
        starts_at=None,
        ends_at=T0 + 60_000,
        comment="deploy",
        author="ana@acme.example",
        at=T0,
    )
    assert made.starts_at == T0 and made.silence_id.startswith("sil_")
    assert silences.tenant_silences(store, tenant="t1") == (made,)
    assert made.regex_engine is RegexEngine.RE2
    assert silences.tenant_silences(store, tenant="t2") == ()


def test_silences_are_listed_latest_start_first(store: EventStore) -> None:
    for start in (T0, T0 + 2, T0 + 1):
        silences.create_silence(
            store,
            tenant="t1",
            matchers=DB,
            starts_at=start,
            ends_at=T0 + 60_000,
            comment="",
            author="a",
            at=T0,
        )
    starts = [s.starts_at for s in silences.tenant_silences(store, tenant="t1")]
    assert starts == [T0 + 2, T0 + 1, T0]


def test_a_refused_silence_records_nothing(store: EventStore) -> None:
    with pytest.raises(CommandRejected):
        silences.create_silence(
            store,
            tenant="t1",
            matchers=(LabelMatcher(name="not a label", op=MatchOp.EQ, value="x"),),
            starts_at=None,
            ends_at=T0 + 1,
            comment="",
            author="a",
            at=T0,
        )
    assert silences.tenant_silences(store, tenant="t1") == ()


def test_expiring_ends_the_window_now_and_an_unknown_id_is_no_such_silence(
    store: EventStore,
) -> None:
    made = silences.create_silence(
        store,
        tenant="t1",
        matchers=DB,
        starts_at=None,
        ends_at=T0 + 60_000,
        comment="",
        author="a",
        at=T0,
    )
    expired = silences.expire_silence(
        store, tenant="t1", silence_id=made.silence_id, by="bo", at=T0 + 10
    )
    assert expired.ends_at == T0 + 10
    with pytest.raises(silences.NoSuchSilence):
        silences.expire_silence(store, tenant="t2", silence_id=made.silence_id, by="bo", at=T0)


def test_the_rules_in_force_are_the_defaults_until_a_version_is_published(
    store: EventStore,
) -> None:
    before = rules.rules_in_force(store, tenant="t1")
    assert before.ruleset.version == 0 and before.published_at is None
    assert rules.publish_rules(store, tenant="t1", ruleset=Ruleset(version=1), by="ops", at=T0) == 1
    after = rules.rules_in_force(store, tenant="t1")
    assert (after.ruleset.version, after.published_at, after.published_by) == (1, T0, "ops")
    with pytest.raises(CommandRejected):
        rules.publish_rules(store, tenant="t1", ruleset=Ruleset(version=1), by="ops", at=T0)


def accounts_of(store: EventStore) -> tuple[Accounts, Caller, Caller]:
    """A tenant with an admin and a viewer, and the account use cases as each of them."""
    tenant = TenancyService(store).create_tenant("acme").tenant_id
    service = AccessService(store)
    accounts = Accounts(service, TokenAuthenticator(store))
    callers = []
    for email, role in (("admin@acme.example", Role.ADMIN), ("v@acme.example", Role.VIEWER)):
        user = service.create_user(tenant_id=tenant, email=email, role=role)
        issued = service.issue_token(tenant_id=tenant, user_id=user.user_id, name="t")
        callers.append(Caller(tenant_id=tenant, user=user, token=issued.record))
    return accounts, callers[0], callers[1]


def test_an_admin_cannot_create_an_owner_and_nothing_is_recorded(store: EventStore) -> None:
    accounts, admin, _ = accounts_of(store)
    with pytest.raises(access.RoleNotGranted):
        accounts.create_user(admin, email="o@acme.example", role=Role.OWNER, password=None)
    assert [u.email for u in accounts.users(admin)] == ["admin@acme.example", "v@acme.example"]
    made = accounts.create_user(admin, email="r@acme.example", role=Role.RESPONDER, password=None)
    assert made.role is Role.RESPONDER


def test_a_caller_revokes_only_their_own_personal_tokens(store: EventStore) -> None:
    accounts, admin, viewer = accounts_of(store)
    with pytest.raises(NoSuchToken):
        accounts.revoke_own_token(viewer, admin.token.token_id)
    accounts.revoke_own_token(viewer, viewer.token.token_id)
    [revoked] = accounts.tokens(viewer)
    assert revoked.revoked_at


@pytest.mark.parametrize("days", [0, 3651, -1])
def test_a_token_expiry_must_be_1_to_3650_days(store: EventStore, days: int) -> None:
    accounts, _, viewer = accounts_of(store)
    with pytest.raises(CommandRejected) as refused:
        accounts.issue_token(viewer, name="n", expires_in_days=days)
    assert refused.value.problems == (("expires_in_days", "must be 1..3650"),)
