"""The typed decoding of a source's payload is only a faster way to the same result.

Well-formed bodies are decoded straight into typed structs; any other body goes through the
field-by-field checker. Both must give the same signals, the same details bytes and the same
rejections, for every engine version and either JSON decoder, or replay would diverge.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from payload_strategies import bodies, normalization_rulesets, received_ats

from helios.domain import versions
from helios.domain.normalize import normalize
from helios.domain.normalize.dispatch import normalize_checked
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
