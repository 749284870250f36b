"""Assertions shared by the normalizer tests."""

from __future__ import annotations

from helios.domain.normalize import Normalized, NormalizeResult, Rejected
from helios.domain.values import Signal


def only_signals(result: NormalizeResult) -> tuple[Signal, ...]:
    """The signals of a result that must be ``Normalized``."""
    assert isinstance(result, Normalized), result
    return result.signals


def only_signal(result: NormalizeResult) -> Signal:
    """The one signal of a result that must hold exactly one."""
    signals = only_signals(result)
    assert len(signals) == 1, signals
    return signals[0]


def rejected_fields(result: NormalizeResult) -> set[str]:
    """The fields named by a result that must be ``Rejected``."""
    assert isinstance(result, Rejected), result
    assert result.errors, result
    return {error.field for error in result.errors}
