"""What verify reports: a summary and, for each divergence, recorded versus recomputed."""

from __future__ import annotations

from typing import Any

import attrs
import msgspec


@attrs.frozen(kw_only=True)
class Divergence:
    """One place where the log and the recomputation disagree.

    ``kind`` is ``changed`` (both exist and differ), ``unexpected`` (recorded, not
    recomputed), ``missing`` (recomputed, not recorded), ``outcome`` (normalization differs),
    ``unreplayable`` (the input names rules or data the log does not hold) or ``snapshot`` (a
    snapshot differs from its stream evolved up to its version; ``position`` is 0).
    """

    kind: str
    position: int
    """Log position of the recorded event (of the input, for ``missing``)."""
    stream_id: str
    version: int | None
    name: str
    recorded: Any = None
    """The recorded event as plain data (None when absent)."""
    recomputed: Any = None
    input_position: int | None = None
    """Log position of the input whose replay produced the expectation."""
    message: str = ""


@attrs.frozen(kw_only=True)
class VerifyReport:
    """The summary of one verify run; ``ok`` when nothing diverged."""

    inputs: int
    """Recorded inputs replayed (envelopes, ticks, rule and silence changes)."""
    events: int
    """Log entries read."""
    decisions: int
    """Recorded decisions compared with their recomputation."""
    divergence_count: int
    divergences: tuple[Divergence, ...]
    """The first divergences, in log order (at most the run's ``max_divergences``)."""
    elapsed_s: float
    last_position: int
    states_rebuilt: int = 0
    """States read again from their streams in the store (history before a window)."""
    states_reloaded: int = 0
    """States evicted from memory and read back from the replay's spill file."""
    snapshots_checked: int = 0
    """Snapshots compared with their stream evolved up to their version."""
    snapshots_skipped: int = 0
    """Snapshots of an older shape of the state (loads refuse them too)."""

    @property
    def ok(self) -> bool:
        return self.divergence_count == 0

    @property
    def rate(self) -> float:
        """Log entries per second."""
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


def plain(event: object) -> Any:
    """An event as JSON-ready data, with its stable name, for reports."""
    if event is None:
        return None
    data = msgspec.to_builtins(event)
    return {"event": getattr(type(event), "NAME", type(event).__name__), **data}
