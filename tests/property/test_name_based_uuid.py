"""``identity.name_based_uuid`` makes the ``UUID`` that ``uuid.uuid5`` makes, for any namespace
and name: every stream id already recorded (alerts, incident groups, envelopes, input markers)
comes out the same."""

from __future__ import annotations

import pickle
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helios.adapters.store.recorder_store import INPUT_NAMESPACE, input_stream_id
from helios.domain import alert, identity


@given(namespace=st.uuids(), name=st.text(st.characters(codec="utf-8"), max_size=300))
def test_it_is_the_uuid5_of_the_name_in_every_respect(namespace: uuid.UUID, name: str) -> None:
    expected = uuid.uuid5(namespace, name)
    made = identity.name_based_uuid(namespace)(name)
    assert type(made) is uuid.UUID
    assert made == expected
    assert hash(made) == hash(expected)
    assert (made.int, made.hex, str(made), made.bytes) == (
        expected.int, expected.hex, str(expected), expected.bytes,
    )  # fmt: skip
    assert (made.version, made.variant, made.is_safe) == (5, uuid.RFC_4122, expected.is_safe)
    assert pickle.loads(pickle.dumps(made)) == expected
    with pytest.raises(TypeError):
        made.int = 0  # type: ignore[misc]  # as immutable as any UUID


@given(
    before=st.text(max_size=10),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    after=st.text(max_size=10),
)
def test_a_name_utf8_cannot_write_is_refused_as_uuid5_refuses_it(
    before: str, surrogate: str, after: str
) -> None:
    name = before + surrogate + after
    with pytest.raises(UnicodeEncodeError):
        uuid.uuid5(identity.NAMESPACE, name)
    with pytest.raises(UnicodeEncodeError):
        identity.name_based_uuid(identity.NAMESPACE)(name)


@given(tenant=st.text(max_size=20), key=st.text(max_size=60))
def test_stream_and_input_ids_are_those_recorded_before(tenant: str, key: str) -> None:
    name = f"{tenant}\x1f{key}"
    try:
        expected = uuid.uuid5(identity.NAMESPACE, f"alert\x1f{name}")
    except UnicodeEncodeError:
        return
    assert alert.alert_stream_id(tenant, key) == expected
    assert input_stream_id(name) == uuid.uuid5(INPUT_NAMESPACE, f"input/{name}")


def test_a_known_stream_id_stays_the_same() -> None:
    # Pinned: an alert stream id as recorded in logs written before.
    assert str(alert.alert_stream_id("ten_a", "k1")) == str(
        uuid.uuid5(uuid.UUID("5f0c6b3e-6a53-4d1f-9d6e-3d2f1c0b7a11"), "alert\x1ften_a\x1fk1")
    )
