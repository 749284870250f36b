"""The statistical test behind every trend: a conditional Poisson rate comparison.

Two periods of equal length saw ``before`` and ``after`` events. If both are Poisson counts
with the same rate, then given their total ``n`` the later count is Binomial(n, 1/2). The
two-sided exact binomial p-value of ``after`` says how surprising the difference is; a change
is reported only when p < ``ALPHA`` *and* the rate moved by at least ``MIN_RELATIVE_CHANGE``
(a tiny change in a huge count is real but not worth a look).
"""

from __future__ import annotations

import math

import attrs

ALPHA = 0.01
MIN_RELATIVE_CHANGE = 0.25


@attrs.frozen(kw_only=True)
class RateChange:
    """The comparison of two equal periods' counts."""

    before: int
    after: int
    p_value: float
    direction: str
    """``up``, ``down`` or ``steady`` (not significant, or too small a change)."""

    @property
    def ratio(self) -> float | None:
        """``after / before`` (None when nothing happened before)."""
        return self.after / self.before if self.before else None


def poisson_rate_change(before: int, after: int) -> RateChange:
    """Compare two counts of equal exposure (see the module)."""
    p_value = binomial_two_sided(after, before + after)
    relative = abs(after - before) / max(before, 1)
    significant = p_value < ALPHA and relative >= MIN_RELATIVE_CHANGE
    direction = "steady"
    if significant:
        direction = "up" if after > before else "down"
    return RateChange(before=before, after=after, p_value=p_value, direction=direction)


def binomial_two_sided(k: int, n: int) -> float:
    """P(X as extreme as ``k``) for X ~ Binomial(n, 1/2), both tails (1.0 when n is 0)."""
    if n <= 0:
        return 1.0
    tail = min(k, n - k)
    if 2 * tail == n:
        return 1.0
    if n > 10_000:
        # Normal approximation with continuity correction: exact enough at this size.
        z = (abs(k - n / 2) - 0.5) / math.sqrt(n / 4)
        return min(1.0, math.erfc(z / math.sqrt(2)))
    # log-space sum: exact for the counts alerting sees (up to millions) without overflow.
    log_half = n * math.log(0.5)
    total = 0.0
    for i in range(tail + 1):
        total += math.exp(_log_choose(n, i) + log_half)
    return min(1.0, 2 * total)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def quantile(values: list[float], q: float) -> float | None:
    """The linearly interpolated ``q`` quantile (as DuckDB's ``quantile_cont``), None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = (len(ordered) - 1) * q
    low = math.floor(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)
