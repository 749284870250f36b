"""First start: the default tenant, its integrations and a responder, each created once."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

import pytest

from helios.adapters.key_file import PrivateJsonFile
from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import AccessService
from helios.apps.application.provisioning import Provisioning
from helios.apps.application.tenancy import TenancyService, hash_key
from helios.domain.access import Role
from helios.domain.values import SourceKind
from helios.ports.event_store import EventStore


class Keyring:
    """A keyring in memory, counting its writes."""

    def __init__(self, details: Mapping[str, str] | None = None) -> None:
        self.details = dict(details or {})
        self.writes = 0

    def read(self) -> dict[str, str]:
        return dict(self.details)

    def write(self, details: Mapping[str, str]) -> None:
        self.details = dict(details)
        self.writes += 1


@pytest.fixture
def store() -> EventStore:
    return open_event_store("memory://")


def test_a_fresh_store_gets_a_tenant_with_both_integrations(store: EventStore) -> None:
    """Both keys are new (shown once) and are the keys of the tenant's integrations."""
    keyring = Keyring()
    details, fresh = Provisioning(store).integrations(keyring)

    assert fresh == {"routing_key", "pagerduty_routing_key"}
    assert keyring.details == details
    tenant = TenancyService(store).tenant(details["tenant"])
    assert tenant.name == "default"
    kinds = {i.integration_id: i.kind for i in tenant.integrations}
    assert kinds == {
        details["integration"]: SourceKind.ALERTMANAGER,
        details["pagerduty_integration"]: SourceKind.PAGERDUTY,
    }
    webhook = tenant.integration(details["integration"])
    assert webhook is not None and webhook.accepts_key_hash(hash_key(details["routing_key"]), 0)


def test_a_second_start_creates_nothing(store: EventStore) -> None:
    """What the keyring holds is not created again; nothing is written."""
    keyring = Keyring()
    first, _ = Provisioning(store).integrations(keyring)
    position = store.max_position()

    again, fresh = Provisioning(store).integrations(keyring)

    assert (again, fresh) == (first, frozenset())
    assert store.max_position() == position and keyring.writes == 1


def test_a_keyring_from_before_pagerduty_keeps_its_key_and_gains_one(store: EventStore) -> None:
    """Only the missing integration is created."""
    keyring = Keyring()
    details, _ = Provisioning(store).integrations(keyring)
    older = Keyring({k: details[k] for k in ("tenant", "integration", "kind", "routing_key")})

    upgraded, fresh = Provisioning(store).integrations(older)

    assert fresh == {"pagerduty_routing_key"}
    assert upgraded["routing_key"] == details["routing_key"]
    assert len(TenancyService(store).tenant(details["tenant"]).integrations) == 3


def test_the_responder_and_its_token_are_created_once(store: EventStore) -> None:
    """A responder of the tenant with a personal token; the second start reuses them."""
    provisioning = Provisioning(store)
    tenant = provisioning.integrations(Keyring())[0]["tenant"]
    keyring = Keyring()

    details, created = provisioning.responder(keyring, tenant)
    again, created_again = provisioning.responder(keyring, tenant)

    assert created and not created_again and again == details
    people = AccessService(store)
    (user,) = people.users(tenant)
    assert (user.user_id, user.role) == (details["user"], Role.RESPONDER)
    assert len(people.tokens(tenant, user.user_id)) == 1


def test_the_demo_integrations_are_created_once(store: EventStore) -> None:
    """One key per demo source; the Alertmanager one is the first start's."""
    provisioning = Provisioning(store)
    first_start = provisioning.integrations(Keyring())[0]
    keyring = Keyring()

    keys = provisioning.demo_integrations(keyring, first_start)
    position = store.max_position()

    assert set(keys) == {SourceKind.ALERTMANAGER, SourceKind.GRAFANA, SourceKind.PAGERDUTY}
    assert keys[SourceKind.ALERTMANAGER] == first_start["routing_key"]
    assert provisioning.demo_integrations(keyring, first_start) == keys
    assert store.max_position() == position


def test_the_key_file_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    """0600, and replaced whole."""
    keyring = PrivateJsonFile(tmp_path / "data" / "integration.json")
    assert keyring.read() == {}
    keyring.write({"routing_key": "one"})
    keyring.write({"routing_key": "two"})

    assert keyring.read() == {"routing_key": "two"}
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600
    assert [p.name for p in keyring.path.parent.iterdir()] == ["integration.json"]
