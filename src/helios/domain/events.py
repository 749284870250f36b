"""Domain events: their stable wire names and the registry of every event type.

Each event class carries ``NAME``, a stable, versioned name such as
``helios.alert.triggered.v1``; stores use it instead of a Python class path, so renaming or
moving a class never breaks history. A new schema version gets a new name and an upcaster;
a field added to a recorded type can instead carry ``ADDED_FIELD`` metadata (``ADDED`` on a
struct's field), its default being what the records made before it mean.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import msgspec

ADDED_FIELD_KEY = "helios.added_field"
ADDED_FIELD = MappingProxyType({ADDED_FIELD_KEY: True})
"""attrs field metadata for a field added to a type after records of it were stored
(``attrs.field(default=..., metadata=ADDED_FIELD)``).

Its default is what those older records mean, and the stored encoding leaves the field out
whenever it holds the default (the store's codec reads this mark): a record that does not use
the field keeps the bytes it always had, which replay compares byte for byte.
"""

ADDED = msgspec.Meta(extra={ADDED_FIELD_KEY: True})
"""The same mark for a field of a ``msgspec.Struct`` event, on the field's type:
``late: Annotated[bool, ADDED] = False`` (a struct field carries no other metadata)."""


_REGISTRY: dict[str, type[Any]] = {}


def event(name: str) -> Any:
    """Class decorator: give an attrs event class its stable wire name and register it."""

    def register(cls: type[Any]) -> type[Any]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"event name {name!r} registered twice")
        cls.NAME = name
        _REGISTRY[name] = cls
        return cls

    return register


def event_types() -> dict[str, type[Any]]:
    """Every registered event type by wire name."""
    # Imported for the registrations they make when first imported; here, not at the top,
    # because the event modules import this one to register.
    from helios.domain import (  # noqa: F401
        access,
        admin_jobs,
        alert,
        flags,
        incident,
        intake,
        key_index,
        operators,
        reports,
        ruleset_stream,
        silence,
        tenancy,
        user_index,
    )

    return dict(_REGISTRY)
