"""Fields added to a recorded type (``ADDED_FIELD``): left out of the stored encoding at their
default, so older records keep their bytes and read back with that default."""

from __future__ import annotations

from typing import Annotated

import attrs
import msgspec

from helios.adapters.store.codec import EventCodec
from helios.domain.events import ADDED, ADDED_FIELD


@attrs.frozen(kw_only=True)
class Inner:
    text: str


@attrs.frozen(kw_only=True)
class InnerLater:
    text: str
    mode: str = attrs.field(default="old", metadata=ADDED_FIELD)


@attrs.frozen(kw_only=True)
class Before:
    NAME = "test.thing.v1"
    inner: Inner
    count: int = 0


@attrs.frozen(kw_only=True)
class After:
    NAME = "test.thing.v1"
    inner: InnerLater
    count: int = 0
    engine: str = attrs.field(default="old", metadata=ADDED_FIELD)


def _codec() -> EventCodec:
    return EventCodec(types={"test.thing.v1": After})


def test_added_fields_at_their_default_encode_to_the_bytes_recorded_before_them() -> None:
    """Top-level and nested added fields are both left out."""
    old = EventCodec(types={"test.thing.v1": Before}).encode(Before(inner=Inner(text="x")))
    assert _codec().encode(After(inner=InnerLater(text="x"))) == old


def test_an_old_record_reads_back_with_the_defaults() -> None:
    """What older records mean is the field's default."""
    _, state = EventCodec(types={}).encode(Before(inner=Inner(text="x"), count=3))
    _, event = _codec().decode("test.thing.v1", state)
    assert event == After(inner=InnerLater(text="x"), count=3)


def test_added_fields_set_otherwise_are_recorded_and_read_back() -> None:
    """A value other than the default is stored and round-trips."""
    codec = _codec()
    event = After(inner=InnerLater(text="x", mode="new"), engine="new")
    name, state = codec.encode(event)
    assert codec.decode(name, state) == (name, event)
    assert state != codec.encode(After(inner=InnerLater(text="x")))[1]


# The same, for events that are frozen ``msgspec.Struct``s: the mark is the ``ADDED`` metadata
# of the field's ``Annotated`` type, and the struct may hold an attrs value with added fields.


class StructAfter(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    NAME = "test.thing.v1"
    count: int = 0
    engine: Annotated[str, ADDED] = "old"
    inner: InnerLater


class StructBefore(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    NAME = "test.thing.v1"
    count: int = 0
    inner: Inner


def test_a_struct_event_leaves_out_its_added_fields_at_their_default_nested_ones_too() -> None:
    old = EventCodec(types={}).encode(Before(inner=Inner(text="x")))
    assert EventCodec(types={}).encode(StructBefore(inner=Inner(text="x"))) == old
    assert EventCodec(types={}).encode(StructAfter(inner=InnerLater(text="x"))) == old


def test_a_struct_event_reads_an_old_record_back_with_the_defaults_and_keeps_other_values() -> None:
    codec = EventCodec(types={"test.thing.v1": StructAfter})
    _, state = codec.encode(Before(inner=Inner(text="x"), count=3))
    assert codec.decode("test.thing.v1", state)[1] == StructAfter(
        inner=InnerLater(text="x"), count=3
    )
    event = StructAfter(inner=InnerLater(text="x", mode="new"), engine="new")
    name, state = codec.encode(event)
    assert codec.decode(name, state) == (name, event)
    assert state != codec.encode(StructAfter(inner=InnerLater(text="x")))[1]


def test_a_nested_value_shared_by_many_events_encodes_alike_each_time() -> None:
    """One nested value carried by every event (a tenant's fold policy) is stripped once and
    remembered; the events still encode as each would alone, whatever else they hold."""
    codec = _codec()
    shared = InnerLater(text="policy")
    events = [After(inner=shared, count=n, engine="new" if n % 2 else "old") for n in range(5)]
    alone = [_codec().encode(event) for event in events]
    assert [codec.encode(event) for event in events] == alone
    assert [codec.encode(event) for event in events] == alone
    changed = InnerLater(text="policy", mode="new")
    assert codec.encode(After(inner=changed)) == _codec().encode(After(inner=changed))


def test_an_attrs_event_is_not_changed_by_leaving_out_its_added_fields() -> None:
    """The copy encoded without its defaults is a copy: the event keeps its values."""
    event = After(inner=InnerLater(text="x"), count=2)
    _codec().encode(event)
    assert event == After(inner=InnerLater(text="x"), count=2)
    assert event.engine == "old"
    assert event.inner.mode == "old"
