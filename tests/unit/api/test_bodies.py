"""The checks every body goes through before it is decoded: encoding and nesting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helios.apps.http.bodies import (
    MAX_JSON_DEPTH,
    json_too_deep,
    refuse_content_encoding,
    refuse_deep_json,
)
from helios.apps.http.errors import InvalidBody, UnsupportedEncoding

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:\n'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a'), inner, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=8))
def test_the_depth_check_agrees_with_the_documents_nesting(value: Any, limit: int) -> None:
    """Brackets inside strings (escaped quotes and backslashes included) nest nothing."""
    assert json_too_deep(json.dumps(value).encode(), limit) == (depth(value) > limit)


@pytest.mark.parametrize(
    ("body", "too_deep"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, False),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), True),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), True),
        (b"[" * 1000, True),  # never closed: a decoder recurses all the way before failing
        (b"]" + b"[" * 1000, False),  # a decoder stops at the stray bracket
        (b'["' + b"[" * 1000 + b'"]', False),  # inside a string
        (b'["\\"' + b"[" * 1000 + b'"]', False),  # after an escaped quote, still a string
        (b'["\\\\"' + b"[" * 1000 + b"]", True),  # an escaped backslash ends the string
        (b"[]" * 100_000, False),  # many brackets, none nested
    ],
)
def test_nesting_is_counted_as_a_decoder_would_recurse(body: bytes, too_deep: bool) -> None:
    """Well-formed or not."""
    assert json_too_deep(body) is too_deep


def test_a_body_nested_too_deeply_is_refused_naming_the_body() -> None:
    """A field-level 400."""
    with pytest.raises(InvalidBody) as refused:
        refuse_deep_json(b"[" * 1000 + b"]" * 1000)
    assert [e.field for e in refused.value.errors] == ["body"]


@pytest.mark.parametrize(
    "values", [[b"gzip"], [b"br"], [b"identity, gzip"], [b"identity", b"deflate"], [b"x-\xff"]]
)
def test_a_compressed_body_is_refused_with_415_naming_the_encoding(values: list[bytes]) -> None:
    """Whatever the coding, however the header is split."""
    headers = [(b"content-type", b"application/json")]
    headers += [(b"content-encoding", value) for value in values]
    with pytest.raises(UnsupportedEncoding) as refused:
        refuse_content_encoding(headers)
    assert refused.value.status == 415
    assert "not supported" in refused.value.detail
    assert [e.field for e in refused.value.errors] == ["Content-Encoding"]


@pytest.mark.parametrize("values", [[], [b"identity"], [b"IDENTITY"], [b""], [b" identity , "]])
def test_an_identity_or_absent_encoding_is_accepted(values: list[bytes]) -> None:
    """``identity`` means no encoding."""
    refuse_content_encoding([(b"content-encoding", value) for value in values])
