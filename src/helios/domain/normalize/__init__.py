"""Normalization: an envelope's bytes into canonical signals, or a typed rejection.

Pure and total: any byte string yields ``Normalized``, ``Control``, ``ChangeNormalized`` or
``Rejected``, never an unexpected exception. One module per source; ``normalize`` dispatches on
the envelope's source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import msgspec

from helios.domain.changes import Change
from helios.domain.values import Signal

JsonDecoder = Callable[[bytes], Any]
"""Decodes JSON bytes; ``json.loads`` by default, a faster one may be injected."""


@attrs.frozen(kw_only=True)
class FieldError:
    """What is wrong and where: ``field`` is a path such as ``alerts[3].labels.severity``."""

    field: str
    message: str


class Normalized(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The signals an envelope holds (an Alertmanager batch holds many; it may hold none).

    A frozen ``msgspec.Struct`` (as ``Signal``), not an attrs class: one is made for every
    envelope, in C, several times faster than a frozen attrs instance sets its fields.
    """

    signals: tuple[Signal, ...]
    skipped: tuple[FieldError, ...] = ()
    """Items deliberately not turned into signals (e.g. CloudWatch INSUFFICIENT_DATA)."""


@attrs.frozen(kw_only=True)
class Control:
    """A message about the channel rather than an alert (SNS subscription handshakes)."""

    kind: str
    """``sns.subscription_confirmation`` or ``sns.unsubscribe_confirmation``."""
    topic: str = ""
    confirm_url: str = ""
    message_id: str = ""


@attrs.frozen(kw_only=True)
class Rejected:
    """The envelope cannot be normalized; it is kept (quarantined) with these reasons."""

    reason: str
    errors: tuple[FieldError, ...] = ()


@attrs.frozen(kw_only=True)
class ChangeNormalized:
    """The changes an envelope holds (a deploy, a config change): never signals, never alerts.

    ``normalizer_version`` is recorded with them: a later change to how changes are normalized
    gets a new version, and replay checks each recorded change against its own.
    """

    changes: tuple[Change, ...]
    normalizer_version: int


NormalizeResult = Normalized | Control | ChangeNormalized | Rejected
from helios.domain.normalize.dispatch import normalize as normalize  # noqa: E402
from helios.domain.normalize.dispatch import rejection as rejection  # noqa: E402
