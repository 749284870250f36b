"""The typed decoding of a source's payload is only a faster way to the same result.

Well-formed bodies are decoded straight into typed structs; any other body goes through the
field-by-field checker. Both must give the same signals, the same details bytes and the same
rejections, for every engine version and either JSON decoder, or replay would diverge.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from payload_strategies import bodies, normalization_rulesets, received_ats
from test_normalization_total import _shaped_payloads

from helios.domain import versions
from helios.domain.normalize import common as check
from helios.domain.normalize import normalize
from helios.domain.normalize.dispatch import normalize_checked
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, SourceKind

TYPED_SOURCES = [
    SourceKind.ALERTMANAGER,
    SourceKind.GRAFANA,
    SourceKind.PAGERDUTY,
    SourceKind.GENERIC,
    SourceKind.PAGERDUTY_CHANGE,
    SourceKind.CLOUDWATCH,
]
VERSIONS = st.sampled_from(range(versions.LEGACY, versions.CURRENT + 1))
DECODERS = st.sampled_from([json.loads, orjson.loads])


@pytest.mark.parametrize("source", TYPED_SOURCES, ids=lambda source: source.value)
@given(data=st.data(), ruleset=normalization_rulesets, received_at=received_ats)
def test_typed_decoding_gives_what_the_field_checker_gives(source, data, ruleset, received_at):
    body = data.draw(bodies(source), label="body")
    version = data.draw(VERSIONS, label="version")
    decode = data.draw(DECODERS, label="decode")
    envelope = Envelope(
        ingest_id="ing-1",
        tenant="ten_1",
        integration="int_1",
        source=source,
        received_at=received_at,
        body=body,
    )
    assert normalize(envelope, ruleset, decode=decode, version=version) == normalize_checked(
        envelope, ruleset, decode=decode, version=version
    )


_TYPED_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(st.characters(codec="utf-8")),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=st.dictionaries(st.text(st.characters(codec="utf-8")), _TYPED_VALUES, max_size=4))
def test_typed_details_without_floats_are_the_bytes_the_json_module_writes(value):
    assert check.canonical_json(value).decode("utf-8") == check.details(value, "body", [])


@given(document=_shaped_payloads())
def test_typed_decoding_of_mutated_real_payloads_gives_what_the_field_checker_gives(document):
    source, body = document
    for version in range(versions.LEGACY, versions.CURRENT + 1):
        envelope = Envelope(
            ingest_id="ing-1",
            tenant="ten_1",
            integration="int_1",
            source=source,
            received_at=1_773_480_000_000,
            body=body,
        )
        assert normalize(
            envelope, Ruleset(), decode=orjson.loads, version=version
        ) == normalize_checked(envelope, Ruleset(), decode=orjson.loads, version=version)


_FLOATS = (
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-5, max_value=1e-3)
    | st.floats(min_value=1e15, max_value=1e17)
    | st.sampled_from([0.0, -0.0, 1e-4, 1e16, -1e16, 9999999999999998.0, 1e16 - 2, 4.7])
)


@settings(max_examples=500)
@given(value=_FLOATS, negative=st.booleans())
def test_a_float_not_written_apart_is_the_text_the_json_module_writes(value, negative):
    value = -value if negative else value
    if not check.has_float_written_apart(value):
        assert check.canonical_json({"v": [value]}).decode("utf-8") == check.details(
            {"v": [value]}, "body", []
        )
