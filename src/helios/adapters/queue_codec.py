"""How bytes travel through text-only queues.

SQS bodies are XML-safe Unicode text, so bytes are framed with a one-character marker: ``t`` the
bytes are such text already and go verbatim (the common case: JSON webhooks), ``b`` base64, ``z``
base64 of zstd (large payloads: a 160 KB Alertmanager batch of 200 alerts becomes 1.8 KB), ``p``
a pointer to a payload stored out of band. What the bytes mean (an envelope, a command) is the
application's message format (``helios.apps.application.envelopes``).
"""

from __future__ import annotations

import base64
import re

import zstandard

# Below this, compressing costs more CPU (~20 us) than it saves: SQS bills per 64 KiB anyway.
COMPRESS_FROM_BYTES = 8 * 1024
# A hostile or corrupt frame must not make a consumer allocate without bound.
_MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024

_TEXT = "t"
_BASE64 = "b"
_ZSTD = "z"
_POINTER = "p"

# Characters SQS accepts in a body, minus CR: an XML round trip may turn CRLF into LF.
_NOT_QUEUE_SAFE = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class MalformedMessage(ValueError):
    """A frame that this codec did not produce."""


def to_text(payload: bytes) -> str:
    """``payload`` framed as text a queue accepts, compressed when that pays."""
    text = _as_queue_text(payload)
    if len(payload) >= COMPRESS_FROM_BYTES or text is None:
        packed = base64.b64encode(zstandard.ZstdCompressor(level=3).compress(payload))
        # Plain text is cheaper to read and inspect: prefer it unless zstd clearly wins.
        limit = len(payload) * 9 // 10 if text is not None else len(payload) * 4 // 3
        if len(packed) < limit:
            return _ZSTD + packed.decode("ascii")
    if text is not None:
        return _TEXT + text
    return _BASE64 + base64.b64encode(payload).decode("ascii")


def pointer_text(key: str) -> str:
    """A body that stands for a payload stored out of band under ``key``."""
    return _POINTER + key


def pointer_key(text: str) -> str | None:
    """The blob key if ``text`` is a pointer, else None."""
    return text[1:] if text.startswith(_POINTER) else None


def from_text(text: str) -> bytes:
    """The payload ``to_text`` framed.

    Raises:
        MalformedMessage: unknown marker, bad base64 or zstd, or a pointer (resolve it first).
    """
    marker, rest = text[:1], text[1:]
    try:
        if marker == _TEXT:
            return rest.encode("utf-8")
        if marker == _BASE64:
            return base64.b64decode(rest, validate=True)
        if marker == _ZSTD:
            return zstandard.ZstdDecompressor().decompress(
                base64.b64decode(rest, validate=True), max_output_size=_MAX_DECOMPRESSED_BYTES
            )
    except (ValueError, zstandard.ZstdError) as error:
        raise MalformedMessage(f"bad {marker!r} frame: {error}") from error
    if marker == _POINTER:
        raise MalformedMessage("a pointer frame must be resolved through the blob store")
    raise MalformedMessage(f"unknown frame marker {marker!r}")


def _as_queue_text(payload: bytes) -> str | None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _NOT_QUEUE_SAFE.search(text) else text
