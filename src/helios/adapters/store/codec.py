"""Translate attrs domain events to stored bytes and back, by stable name.

The stored topic is the event's ``NAME`` (``helios.alert.triggered.v1``), never a class path,
so classes can move or be renamed. The state is msgpack (msgspec encodes attrs classes
natively), prefixed by one flag byte telling whether it is zstd-compressed: recorded envelope
bodies are large and compress well, small decisions are not worth the CPU.

Old schema versions are read through upcasters: ``old_name -> (new_name, dict -> dict)``,
applied in chain until a registered name is reached. A field added later with a default that
means "as before" (an input's ``engine_version``, marked with ``RECORDED_VERSION`` metadata) is
left out of the encoding while it holds that default: old records decode to it, and new records
of the old behaviour keep exactly the old bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgspec
import zstandard

from helios.domain.versions import RECORDED_VERSION

Upcast = Callable[[dict[str, Any]], dict[str, Any]]
Upcasters = Mapping[str, tuple[str, Upcast]]

_PLAIN = b"\x00"
_ZSTD = b"\x01"
COMPRESS_ABOVE = 1024
"""Payloads longer than this many bytes are stored compressed."""
_ZSTD_LEVEL = 3
_MAX_UPCASTS = 64


class CodecError(ValueError):
    """A stored event cannot be decoded (unknown name, corrupt payload, upcast loop)."""


class EventCodec:
    """Encodes domain events to ``(name, state)`` and decodes them back, upcasting on read.

    ``types`` maps every readable name to its attrs class; when omitted it is taken from the
    domain registry on first use. Encoders and decoders are stateless per call, so one codec
    is safe to share between threads.
    """

    def __init__(
        self,
        *,
        types: Mapping[str, type[Any]] | None = None,
        upcasters: Upcasters | None = None,
        compress_above: int = COMPRESS_ABOVE,
    ) -> None:
        self._types = dict(types) if types is not None else None
        self._upcasters = dict(upcasters or {})
        self._compress_above = compress_above
        self._encoder = msgspec.msgpack.Encoder()
        self._decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {}
        self._optional: dict[type[Any], tuple[tuple[str, Any], ...]] = {}
        # A compressor is reusable but not shareable between threads: one per thread. Its
        # one-shot output is the same bytes as ``zstandard.compress`` at the same level.
        self._local = threading.local()

    def encode(self, event: Any) -> tuple[str, bytes]:
        """Return the event's stable name and its stored state."""
        try:
            name: str = type(event).NAME
        except AttributeError:
            raise CodecError(f"{type(event).__qualname__} is not a domain event") from None
        optional = self._optional.get(type(event))
        if optional is None:
            optional = self._optional[type(event)] = _optional_fields(type(event))
        if optional and any(getattr(event, field) == default for field, default in optional):
            return name, self.pack(self._encoder.encode(_without_defaults(event, optional)))
        return name, self.pack(self._encoder.encode(event))

    def decode(self, name: str, state: bytes) -> tuple[str, Any]:
        """Return the current name and the domain event stored as ``(name, state)``."""
        payload = self.unpack(state)
        if name not in self._upcasters:
            return name, self._decoder(name).decode(payload)
        fields: dict[str, Any] = msgspec.msgpack.decode(payload)
        for _ in range(_MAX_UPCASTS):
            if name not in self._upcasters:
                break
            name, upcast = self._upcasters[name]
            fields = upcast(fields)
        else:
            raise CodecError(f"upcaster chain too long (a loop?) ending at {name!r}")
        try:
            return name, msgspec.convert(fields, type=self._type(name), strict=False)
        except msgspec.ValidationError as error:
            raise CodecError(f"upcast {name!r} does not fit its class: {error}") from error

    def pack(self, payload: bytes) -> bytes:
        """Prefix the flag byte, compressing the payload when it is large."""
        if len(payload) > self._compress_above:
            compressor = getattr(self._local, "compressor", None)
            if compressor is None:
                compressor = self._local.compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
            return _ZSTD + compressor.compress(payload)
        return _PLAIN + payload

    @staticmethod
    def unpack(state: bytes) -> bytes:
        """Strip the flag byte and decompress if needed."""
        flag, body = state[:1], state[1:]
        if flag == _PLAIN:
            return body
        if flag == _ZSTD:
            return zstandard.decompress(body)
        raise CodecError(f"unknown payload flag {flag!r}")

    def _decoder(self, name: str) -> msgspec.msgpack.Decoder[Any]:
        decoder = self._decoders.get(name)
        if decoder is None:
            # A benign race: two threads may both build a decoder; either one is fine.
            decoder = self._decoders[name] = msgspec.msgpack.Decoder(type=self._type(name))
        return decoder

    def _type(self, name: str) -> type[Any]:
        if self._types is None:
            from helios.domain.events import event_types

            self._types = event_types()
        try:
            return self._types[name]
        except KeyError:
            raise CodecError(f"no event type registered as {name!r}") from None


def _optional_fields(cls: type[Any]) -> tuple[tuple[str, Any], ...]:
    """The fields of ``cls`` left out of the encoding when they hold their default."""
    if not attrs.has(cls):
        return ()
    return tuple(
        (field.name, field.default)
        for field in attrs.fields(cls)
        if field.metadata.get(RECORDED_VERSION)
    )


def _without_defaults(event: Any, optional: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The event as the map msgspec would write for it, minus optional fields at their default.

    msgspec writes an attrs instance as a map of its fields sorted by name; a dict with the same
    keys in the same order encodes to the same bytes.
    """
    left_out = {field for field, default in optional if getattr(event, field) == default}
    names = sorted(field.name for field in attrs.fields(type(event)))
    return {name: getattr(event, name) for name in names if name not in left_out}
