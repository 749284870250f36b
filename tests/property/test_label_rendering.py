"""Labels hashed into a signal's id are rendered exactly as the json module renders them.

Every recorded signal id hashes ``json.dumps(labels, ensure_ascii=False, separators=(",", ":"))``;
``identity.render_labels`` writes that text another way (msgspec, in C), which must give the same
characters for any label, a lone surrogate included, or recorded ids would no longer replay.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from helios.domain import identity

_TEXTS = st.text(st.characters(codec=None), max_size=12) | st.sampled_from(
    ["", "\ud800", "a\udfff", "\x00\x1f\x7f", '"\\/', "\u2028\u2029", "é😀"]
)


@settings(max_examples=300)
@given(labels=st.lists(st.tuples(_TEXTS, _TEXTS), max_size=5).map(tuple))
def test_labels_render_as_the_json_module_writes_them(labels):
    expected = json.dumps(labels, ensure_ascii=False, separators=(",", ":"))

    assert identity.render_labels(labels) == expected
