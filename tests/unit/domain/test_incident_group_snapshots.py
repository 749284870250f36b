"""The incident group's state became frozen structs (built for most alert decisions); the
snapshots stored while it was attrs classes keep their schema and read back to equal states."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import msgspec

from helios.adapters.store.snapshots import state_schema
from helios.domain import incident
from helios.domain.values import Millis, Priority, Status


@attrs.frozen(kw_only=True)
class Member:
    dedup_key: str
    status: Status
    priority: Priority | None


@attrs.frozen(kw_only=True, eq=True, hash=False)
class OpenIncident:
    incident_id: str
    number: int
    opened_at: Millis
    by_key: Mapping[str, Member]
    counts: tuple[int, ...]
    unresolved: int
    priority: Priority | None


@attrs.frozen(kw_only=True)
class IncidentGroup:
    tenant: str
    group_key: str
    opened: int = 0
    open: OpenIncident | None = None


# The attrs classes as they were, under the names the schema digest reads.
for _old in (Member, OpenIncident, IncidentGroup):
    _old.__module__ = incident.__name__
    _old.__qualname__ = _old.__name__


def _old_group() -> IncidentGroup:
    members = {
        "db-1": Member(dedup_key="db-1", status=Status.TRIGGERED, priority=Priority.P1),
        "db-2": Member(dedup_key="db-2", status=Status.RESOLVED, priority=None),
    }
    opened = OpenIncident(
        incident_id="inc-1",
        number=3,
        opened_at=1_000,
        by_key=members,
        counts=(1, 0, 0, 0, 0, 1),
        unresolved=1,
        priority=Priority.P1,
    )
    return IncidentGroup(tenant="acme", group_key="storage", opened=3, open=opened)


def test_the_incident_group_snapshot_schema_is_the_one_its_attrs_classes_had() -> None:
    """Stored snapshots are not refused as written for another shape."""
    old = state_schema(IncidentGroup)
    assert old.startswith("helios.domain.incident.IncidentGroup/0/")
    assert state_schema(incident.IncidentGroup) == old


def test_a_snapshot_written_by_the_attrs_classes_reads_back_to_the_equal_state() -> None:
    stored = msgspec.msgpack.encode(_old_group())
    decoded = msgspec.msgpack.Decoder(type=incident.IncidentGroup).decode(stored)
    assert decoded.open is not None
    assert decoded.open.member("db-1") == incident.Member(
        dedup_key="db-1", status=Status.TRIGGERED, priority=Priority.P1
    )
    assert msgspec.to_builtins(decoded) == msgspec.to_builtins(_old_group())
    assert list(decoded.open.by_key) == ["db-1", "db-2"]
