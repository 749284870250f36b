"""Stable identities: content hashes and stream ids.

Never Python's ``hash()``: it is salted per process, so it would change on every restart and
break deduplication and replay.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from json.encoder import encode_basestring

import msgspec

from helios.domain.values import Action, Labels, Millis, Severity

NAMESPACE = uuid.UUID("5f0c6b3e-6a53-4d1f-9d6e-3d2f1c0b7a11")


def stable_hash(*parts: str) -> str:
    """A 32-hex-digit SHA-256 prefix over the parts, unambiguous about part boundaries."""
    # ``_digest`` of the encoded parts, in one loop: a notification's id is hashed this way
    # for every notification decided.
    chunks: list[bytes] = []
    for part in parts:
        encoded = part.encode("utf-8", "surrogatepass")
        size = len(encoded)
        chunks.append(_SMALL_SIZES[size] if size < 256 else size.to_bytes(4, "big"))
        chunks.append(encoded)
    return hashlib.sha256(b"".join(chunks)).hexdigest()[:32]


def _digest(parts: list[bytes]) -> str:
    """``stable_hash`` of parts already encoded: each is hashed after its size (4 bytes)."""
    chunks: list[bytes] = []
    for encoded in parts:
        size = len(encoded)
        chunks += (_SMALL_SIZES[size] if size < 256 else size.to_bytes(4, "big"), encoded)
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
    return observed_signal_id(
        (tenant, source, dedup_key, action.text, str(occurred_at), severity.text, summary, labels)
    )


@functools.lru_cache(maxsize=1 << 14)
def observed_signal_id(observation: tuple[str, str, str, str, str, str, str, Labels]) -> str:
    """``signal_id`` of an observation given as what it hashes: its tenant, source, dedup key,
    action's text, time as text (``str``), severity's text, summary and labels. The same memo,
    without a call with keywords (a source that makes the tuple itself, once per new alert)."""
    tenant, source, dedup_key, action, at, severity, summary, labels = observation
    a, b, c, d, e, f, g, h = parts = (
        tenant.encode("utf-8", "surrogatepass"),
        source.encode("utf-8", "surrogatepass"),
        dedup_key.encode("utf-8", "surrogatepass"),
        action.encode("utf-8", "surrogatepass"),
        at.encode("utf-8", "surrogatepass"),
        severity.encode("utf-8", "surrogatepass"),
        summary.encode("utf-8", "surrogatepass"),
        _rendered_labels(labels),
    )
    sizes = _SMALL_SIZES
    try:
        # Every part under 256 bytes, the usual case: the bytes ``_digest`` hashes, laid out
        # at once (one new id per alert not seen before; a loop over the parts costs more).
        joined = b"".join(
            (
                *(sizes[len(a)], a, sizes[len(b)], b, sizes[len(c)], c, sizes[len(d)], d),
                *(sizes[len(e)], e, sizes[len(f)], f, sizes[len(g)], g, sizes[len(h)], h),
            )
        )
    except IndexError:  # a longer part
        return "sig-" + _digest(list(parts))
    return "sig-" + hashlib.sha256(joined).hexdigest()[:32]


def observation_head(tenant: str, source: str, dedup_key: str, action: Action) -> bytes:
    """What ``signal_id`` hashes of an observation before its time: its tenant, source, dedup
    key and action, each after its size (see ``timed_signal_id``)."""
    return b"".join(
        (
            _sized(tenant.encode("utf-8", "surrogatepass")),
            _sized(source.encode("utf-8", "surrogatepass")),
            _sized(dedup_key.encode("utf-8", "surrogatepass")),
            _sized(action.text.encode("utf-8", "surrogatepass")),
        )
    )


def observation_tail(severity: Severity, summary: str, labels: Labels) -> bytes:
    """What ``signal_id`` hashes of an observation after its time: its severity, summary and
    labels, each after its size (see ``timed_signal_id``)."""
    return b"".join(
        (
            _sized(severity.text.encode("utf-8", "surrogatepass")),
            _sized(summary.encode("utf-8", "surrogatepass")),
            _sized(_rendered_labels(labels)),
        )
    )


@functools.lru_cache(maxsize=1 << 12, typed=True)
def timed_signal_id(head: bytes, occurred_at: Millis, tail: bytes) -> str:
    """``signal_id`` of the observation whose ``observation_head`` is ``head`` and whose
    ``observation_tail`` is ``tail``, at ``occurred_at``: the same id, from parts encoded once
    (a source's facts keep them, so the key's texts are hashed once too), memoized as
    ``signal_id`` is (the same observation arrives many times; kept smaller, for PagerDuty
    events alone, most of whose times are new)."""
    at = str(occurred_at).encode("utf-8")
    return "sig-" + hashlib.sha256(b"".join((head, _sized(at), tail))).hexdigest()[:32]


def _sized(encoded: bytes) -> bytes:
    """``encoded`` after its size, as ``_digest`` hashes it."""
    size = len(encoded)
    return (_SMALL_SIZES[size] if size < 256 else size.to_bytes(4, "big")) + encoded


CONTENT_ID_PREFIX = "sgc-"
"""Marks the id of a signal identified by its content alone (see ``content_signal_id``)."""


def content_signal_id(
    *,
    tenant: str,
    source: str,
    dedup_key: str,
    action: Action,
    severity: Severity,
    summary: str,
    labels: Labels,
    service: str,
) -> str:
    """The id of a signal whose source gave no time of its own: a hash of its content only.

    Its ``occurred_at`` is then when it was received, which differs between the copies of one
    notification (both members of an HA pair, every resend), so it cannot be hashed. The same
    content is the same signal; whether a copy is news is up to the alert (the same content
    after a resolve opens a new episode). Everything the alert's fold reads from a signal is
    hashed, the service included, so copies are interchangeable for it.
    """
    return CONTENT_ID_PREFIX + stable_hash(
        tenant,
        source,
        dedup_key,
        action.text,
        severity.text,
        summary,
        render_labels(labels),
        service,
    )


def is_content_id(signal_id: str) -> bool:
    """Whether ``signal_id`` identifies its signal by content alone (no time of its own)."""
    return signal_id.startswith(CONTENT_ID_PREFIX)


def delivery_key(signal_id: str, occurred_at: Millis) -> str:
    """What tells one delivery of a signal from another in an alert's set of signals.

    A time-bound id already hashes the time; copies of a content-identified signal share the
    id and differ by the time they were received, and each is kept (a late resolve between two
    copies makes the second one a new episode).
    """
    if signal_id.startswith(CONTENT_ID_PREFIX):
        return f"{signal_id}@{occurred_at}"
    return signal_id


def render_labels(labels: Labels) -> str:
    """Labels as compact JSON pairs, ``[["k","v"],...]``, exactly as
    ``json.dumps(labels, ensure_ascii=False, separators=(",", ":"))`` writes them (that text
    is hashed into every recorded signal id), without building an encoder per call."""
    return _rendered_labels(labels).decode("utf-8", "surrogatepass")


def _rendered_labels(labels: Labels) -> bytes:
    """``render_labels`` in UTF-8 (a lone surrogate kept, as ``stable_hash`` encodes it)."""
    if not labels:
        return b"[]"
    try:
        # msgspec writes strings as the json module does without ensure_ascii (the same
        # escapes), and a tuple of pairs as its list of lists, in C.
        return _COMPACT_JSON.encode(labels)
    except UnicodeEncodeError:
        # A lone surrogate, which only the json module's escaping keeps.
        quote = encode_basestring
        text = "[" + ",".join(f"[{quote(key)},{quote(value)}]" for key, value in labels) + "]"
        return text.encode("utf-8", "surrogatepass")


_COMPACT_JSON = msgspec.json.Encoder()


def stream_id(kind: str, *parts: str) -> uuid.UUID:
    """A deterministic stream id (UUID v5) for an aggregate named by its natural key."""
    return _uuid5("\x1f".join((kind, *parts)))


def name_based_uuid(namespace: uuid.UUID) -> Callable[[str], uuid.UUID]:
    """``uuid.uuid5(namespace, name)`` as a function of ``name``: the same ``UUID``, equal and
    alike in every attribute (``tests/property/test_name_based_uuid.py``), in about a third
    of the time. The namespace's SHA-1 state is hashed once and copied, and the ``UUID`` is
    made as its constructor makes it, from the 128-bit integer, without the constructor's
    checks of its many other forms of argument (most of ``uuid5``'s time). A new alert's
    stream, group and input ids are each hashed once.
    """
    started = hashlib.sha1(namespace.bytes, usedforsecurity=False)
    make, fill = object.__new__, object.__setattr__
    from_bytes, unknown = int.from_bytes, uuid.SafeUUID.unknown

    def named(name: str) -> uuid.UUID:
        digest = started.copy()
        digest.update(name.encode("utf-8"))
        made = make(uuid.UUID)
        fill(made, "int", (from_bytes(digest.digest()[:16]) & _NOT_VERSION) | _VERSION_5)
        fill(made, "is_safe", unknown)
        return made

    return named


_NOT_VERSION = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_5 = (0x8000 << 48) | (5 << 76)
"""The bits of a 128-bit integer that RFC 4122's variant and version 5 set, as ``UUID``'s
constructor sets them."""

# A pure function of its argument and called for every signal and decision: memoized. Sized
# for the alerts and groups a few batches touch; each entry costs about 250 bytes.
_uuid5 = functools.lru_cache(maxsize=1 << 13)(name_based_uuid(NAMESPACE))
