"""Stable identities: content hashes and stream ids.

Never Python's ``hash()``: it is salted per process, so it would change on every restart and
break deduplication and replay.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from json.encoder import encode_basestring

from helios.domain.values import Action, Labels, Millis, Severity

NAMESPACE = uuid.UUID("5f0c6b3e-6a53-4d1f-9d6e-3d2f1c0b7a11")


def stable_hash(*parts: str) -> str:
    """A 32-hex-digit SHA-256 prefix over the parts, unambiguous about part boundaries."""
    chunks = []
    for part in parts:
        encoded = part.encode("utf-8", "surrogatepass")
        size = len(encoded)
        chunks.append(_SMALL_SIZES[size] if size < 256 else size.to_bytes(4, "big"))
        chunks.append(encoded)
    # One update of the joined chunks hashes the same bytes as one update per chunk.
    return hashlib.sha256(b"".join(chunks)).hexdigest()[:32]


_SMALL_SIZES = tuple(size.to_bytes(4, "big") for size in range(256))


def labels_dedup_key(labels: Labels, key_labels: tuple[str, ...]) -> str:
    """The dedup key of a source that has none of its own: a hash of the key labels only."""
    present = dict(labels)
    return "lbl-" + stable_hash(*(f"{name}={present.get(name, '')}" for name in key_labels))


def signal_id(
    *,
    tenant: str,
    source: str,
    dedup_key: str,
    action: Action,
    occurred_at: Millis,
    severity: Severity,
    summary: str,
    labels: Labels,
) -> str:
    """The content hash that makes the same observation delivered twice the same signal.

    What the hash covers is the observation itself; delivery facts (``received_at``, the
    integration, envelope-level fields that differ between the members of an HA pair) are left
    out on purpose.
    """
    # The same observation arrives many times (both members of an HA pair, every repeat
    # interval): a pure function, memoized on its arguments (the time as the text hashed, so
    # that equal numbers of another type can never share an entry).
    return _signal_id(
        (tenant, source, dedup_key, action.text, str(occurred_at), severity.text, summary, labels)
    )


@functools.lru_cache(maxsize=1 << 14)
def _signal_id(observation: tuple[str, str, str, str, str, str, str, Labels]) -> str:
    tenant, source, dedup_key, action, occurred_at, severity, summary, labels = observation
    return "sig-" + stable_hash(
        tenant,
        source,
        dedup_key,
        action,
        occurred_at,
        severity,
        summary,
        render_labels(labels),
    )


def render_labels(labels: Labels) -> str:
    """Labels as compact JSON pairs, ``[["k","v"],...]``, exactly as
    ``json.dumps(labels, ensure_ascii=False, separators=(",", ":"))`` writes them (that text
    is hashed into every recorded signal id), without building an encoder per call."""
    if not labels:
        return "[]"
    quote = encode_basestring
    return "[" + ",".join(f"[{quote(key)},{quote(value)}]" for key, value in labels) + "]"


def stream_id(kind: str, *parts: str) -> uuid.UUID:
    """A deterministic stream id (UUID v5) for an aggregate named by its natural key."""
    return _uuid5("\x1f".join((kind, *parts)))


# A pure function of its argument and called for every signal and decision: memoized. Sized
# for the alerts and groups a few batches touch; each entry costs about 250 bytes.
@functools.lru_cache(maxsize=1 << 13)
def _uuid5(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)
