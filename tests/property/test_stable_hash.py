"""``stable_hash`` is the SHA-256 prefix of its parts each after its size, whatever the parts:
the ids of notifications, flags and content-identified signals recorded before keep theirs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from helios.domain import identity

# Any text, lone surrogates included (they are hashed as ``surrogatepass`` writes them), and
# long enough for the four-byte sizes of parts of 256 bytes or more.
texts = st.text(st.characters(), max_size=300) | st.text(
    st.characters(codec="utf-8"), min_size=250, max_size=400
)


@given(parts=st.lists(texts, max_size=6))
def test_the_hash_is_that_of_the_parts_each_after_its_size(parts: list[str]) -> None:
    encoded = [part.encode("utf-8", "surrogatepass") for part in parts]
    assert identity.stable_hash(*parts) == identity._digest(encoded)


def test_a_known_hash_stays_the_same() -> None:
    # Pinned: ids already recorded keep their bytes.
    assert identity.stable_hash("bench", "disk", "sig-1", "triggered", "0") == (
        identity._digest([b"bench", b"disk", b"sig-1", b"triggered", b"0"])
    )
    assert identity.stable_hash("a", "b") == "16275ef0f5d0eb9dd9e0a53277549fda"
