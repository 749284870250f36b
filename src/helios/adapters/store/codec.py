"""Translate domain events (attrs classes, msgspec structs) to stored bytes and back, by name.

The stored topic is the event's ``NAME`` (``helios.alert.triggered.v1``), never a class path,
so classes can move or be renamed. The state is msgpack (msgspec encodes attrs classes
natively), prefixed by one flag byte telling whether it is zstd-compressed: recorded envelope
bodies are large and compress well, small decisions are not worth the CPU.

Old schema versions are read through upcasters: ``old_name -> (new_name, dict -> dict)``,
applied in chain until a registered name is reached. A field added to a type without a new
name (``helios.domain.events.ADDED_FIELD``) is left out of the encoding while it holds its
default, so records that do not use it keep their bytes, and decode back to that default.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgspec
import zstandard

from helios.domain.events import ADDED_FIELD_KEY

Upcast = Callable[[dict[str, Any]], dict[str, Any]]
Upcasters = Mapping[str, tuple[str, Upcast]]
Omissions = tuple[tuple[str, Any, "Omissions | None"], ...]
"""Per field that may be left out: (name, its default, None) for an added field, or
(name, None, the nested type's omissions) for a field holding an attrs or struct type that has
some."""

_PLAIN = b"\x00"
_ZSTD = b"\x01"
COMPRESS_ABOVE = 1024
"""Payloads longer than this many bytes are stored compressed."""
_ZSTD_LEVEL = 3
_BLOB_ROOM = 256
"""Bytes a ``bytearray`` state starts with (most decisions fit; the encoder grows it)."""
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
        self._plans: dict[type[Any], tuple[str, Omissions]] = {}
        """Per event type: its name and the fields it may leave out."""
        # Nested values with added fields recur (every signal of a tenant carries the same
        # fold policy object): each is stripped once, remembered by identity (the value is
        # kept, so its id stays its own), a bounded number at a time.
        self._stripped: dict[int, tuple[Any, Any]] = {}
        # A compressor is reusable but not shareable between threads: one per thread. Its
        # one-shot output is the same bytes as ``zstandard.compress`` at the same level.
        self._local = threading.local()

    def encode(self, event: Any) -> tuple[str, bytes]:
        """Return the event's stable name and its stored state."""
        name, value = self._encodable(event)
        payload = self._encoder.encode(value)
        # Most decisions are small: ``pack``'s plain case, without the call.
        if len(payload) <= self._compress_above:
            return name, _PLAIN + payload
        return name, self.pack(payload)

    def encode_blob(self, event: Any) -> tuple[str, bytes | bytearray]:
        """``encode``, the state (the same bytes) in a ``bytearray`` unless it is compressed:
        SQLite's driver binds a ``bytearray`` as it is, where for ``bytes`` it first looks for
        an adapter, which costs about as much as the rest of binding the row."""
        name, value = self._encodable(event)
        state = bytearray(_BLOB_ROOM)  # its first byte: the flag, _PLAIN
        self._encoder.encode_into(value, state, 1)
        if len(state) - 1 <= self._compress_above:
            return name, state
        return name, self.pack(bytes(memoryview(state)[1:]))

    def _encodable(self, event: Any) -> tuple[str, Any]:
        """The event's name, and the event as encoded (without the added fields that hold
        their default)."""
        cls = type(event)
        plan = self._plans.get(cls)
        if plan is None:
            try:
                name: str = cls.NAME
            except AttributeError:
                raise CodecError(f"{cls.__qualname__} is not a domain event") from None
            # A benign race, as for decoders: two threads compute the same plan.
            plan = self._plans[cls] = (name, _omissions(cls))
        name, omissions = plan
        if omissions:
            return name, _without_defaults(event, omissions, self._stripped)
        return name, event

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


def _omissions(cls: type[Any], seen: frozenset[type[Any]] = frozenset()) -> Omissions:
    """Which fields of ``cls`` (or of attrs or struct types held directly in its fields) are
    added ones: marked ``ADDED_FIELD`` in an attrs field's metadata, or ``ADDED`` on a struct
    field's ``Annotated`` type.

    Added fields inside containers (a tuple of attrs values) are not looked for: none exist.
    """
    is_struct = isinstance(cls, type) and issubclass(cls, msgspec.Struct)
    if not (is_struct or attrs.has(cls)) or cls in seen:
        return ()
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except (NameError, TypeError):
        hints = {}
    if is_struct:
        fields = [(f.name, f.default) for f in msgspec.structs.fields(cls)]
        marked = {name for name, _ in fields if _marked_added(hints.get(name))}
    else:
        fields = [(f.name, f.default) for f in attrs.fields(cls)]
        marked = {f.name for f in attrs.fields(cls) if f.metadata.get(ADDED_FIELD_KEY)}
    found: list[tuple[str, Any, Omissions | None]] = []
    for name, default in fields:
        if name in marked:
            found.append((name, default, None))
            continue
        held = hints.get(name)
        if typing.get_origin(held) is typing.Annotated:
            held = typing.get_args(held)[0]
        if isinstance(held, type):
            nested = _omissions(held, seen | {cls})
            if nested:
                found.append((name, None, nested))
    return tuple(found)


def _marked_added(hint: Any) -> bool:
    """Whether a struct field's type is ``Annotated`` with the ``ADDED`` mark."""
    if typing.get_origin(hint) is not typing.Annotated:
        return False
    return any(
        isinstance(meta, msgspec.Meta) and (meta.extra or {}).get(ADDED_FIELD_KEY)
        for meta in typing.get_args(hint)[1:]
    )


STRIPPED_KEPT = 256
"""Nested values a codec remembers stripped (see ``EventCodec.encode``)."""


def _without_defaults(
    value: Any, omissions: Omissions, stripped: dict[int, tuple[Any, Any]] | None = None
) -> Any:
    """``value`` with each added field that holds its default set to ``UNSET`` (which msgspec
    leaves out of the encoding); ``value`` itself when nothing is left out. ``stripped``
    remembers nested values already done, by identity."""
    changes: dict[str, Any] = {}
    for name, default, nested in omissions:
        current = getattr(value, name)
        if nested is None:
            if current == default:
                changes[name] = msgspec.UNSET
        elif attrs.has(type(current)) or isinstance(current, msgspec.Struct):
            done = _nested_without_defaults(current, nested, stripped)
            if done is not current:
                changes[name] = done
    if not changes:
        return value
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(value, **changes)
    return _attrs_replaced(value, changes)


def _nested_without_defaults(
    value: Any, omissions: Omissions, stripped: dict[int, tuple[Any, Any]] | None
) -> Any:
    if stripped is None:
        return _without_defaults(value, omissions)
    known = stripped.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    done = _without_defaults(value, omissions, stripped)
    if len(stripped) >= STRIPPED_KEPT:
        stripped.clear()
    stripped[id(value)] = (value, done)
    return done


def _attrs_replaced(value: Any, changes: dict[str, Any]) -> Any:
    """A copy of the frozen attrs ``value`` with ``changes``, made for encoding only: no
    ``__init__`` (``UNSET`` is no value its validators would accept), every field copied."""
    cls = type(value)
    copy = object.__new__(cls)
    for field in attrs.fields(cls):
        name = field.name
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(value, name))
    return copy
