"""A canonical byte rendering of domain events for byte-for-byte comparisons in tests."""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import msgspec


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        rendered = {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
        return {"_type": getattr(type(value), "NAME", type(value).__name__), **rendered}
    if isinstance(value, msgspec.Struct):
        fields = value.__struct_fields__
        rendered = {name: _plain(getattr(value, name)) for name in fields}
        return {"_type": type(value).__name__, **rendered}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":")).encode()
