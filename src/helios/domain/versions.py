"""Versions of the domain's behaviour: which rules of normalization and decision handled an input.

Every input record (``EnvelopeNormalized``, ``EnvelopeRejected``, ``ControlReceived``,
``TickReceived``) carries the ``engine_version`` it was handled with, and replay handles it
again with that version. So a change to what normalization produces or to how a decision is
taken is made under a new version, with the old behaviour kept for the old one: history recorded
before the change still replays byte for byte.

A change adds a constant naming the version it starts at, raises ``CURRENT`` to it, and tests
``version >= THAT_CONSTANT`` where the behaviour differs. One number for the whole domain keeps
"what decided this input" a single fact, whichever part changed.
"""

from __future__ import annotations

from typing import Final

LEGACY: Final = 1
"""The behaviour of inputs recorded before versions were: their records have no
``engine_version``, which therefore reads as this one."""

PAGERDUTY_CONTENT_IDENTITY: Final = 2
"""A PagerDuty event without ``payload.timestamp`` is identified by its content
(``identity.content_signal_id``), no longer by the time it was received: an HA pair's copies
and Alertmanager's resends are one signal, which adds no occurrence to the open episode."""

PAGERDUTY_SERVICE: Final = 2
"""The service of a PagerDuty event is ``payload.component``, else the ``service`` (or ``job``)
label every alert Alertmanager lists in ``custom_details`` carries, else ``payload.group``, else
``payload.source``; version 1 went from component straight to source, which Alertmanager sets to
"Alertmanager" for every alert."""

IGNORE_UNTRIGGERED_ACTIONS: Final = 2
"""An acknowledge or resolve for an alert never triggered is recorded as ignored
(``alert.SignalIgnored``), as PagerDuty drops it; version 1 accepted it, and an alert with no
status appeared."""

RE2_PATTERNS: Final = 2
"""Label patterns (``=~``, ``!~`` of silences and rules) are read by RE2, in time linear in the
value (``helios.domain.patterns``); version 1 read them with Python's backtracking ``re``
(except patterns recorded as RE2 ones, which ``re`` never reads)."""

LATENESS_HORIZON: Final = 3
"""An alert's state is bounded by the lateness horizon of its ruleset
(``Ruleset.lateness_horizon_ms`` and ``Ruleset.horizon_signals``): signals that fall behind the
watermark leave the state, summarised in its totals and its fold, and a signal older than the
watermark is recorded flagged ``late_beyond_horizon`` and changes nothing else (no reopen, no
rescore, no notification). Versions 1 and 2 keep every distinct signal of the alert."""

SCORED_ON_OPENING: Final = 4
"""An episode's first score is carried by the decision that opens it (``AlertTriggered`` or
``AlertReopened``: its ``priority``, ``score``, ``factors`` and ``ruleset_version``), and no
``AlertScored`` follows it; a later change of score is an ``AlertScored``, as before. Versions
1 to 3 record the opening and its first score as two decisions."""

NOTIFIED_ON_JOINING: Final = 5
"""An alert that joins an incident together with a notification (a new alert, most often) has
that notification recorded in its join (``IncidentAlertJoined``: ``notification_id`` and
``reason``), and no ``IncidentNotified`` follows it; a notification about an alert already in
the incident is an ``IncidentNotified``, as before. Versions 1 to 4 record the join and the
notification as two decisions."""

CURRENT: Final = 5
"""The version new inputs are handled with."""


def supported(version: int) -> bool:
    """Whether this code can handle inputs recorded with ``version``."""
    return LEGACY <= version <= CURRENT
