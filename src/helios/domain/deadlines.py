"""When a ``Tick`` can next change an alert: its deadline.

A tick decides something for an alert only when (see ``alert.decide`` for ``Tick``):

- its flapping clears: the alert is flapping and ``ruleset.flap_window_ms`` has passed since
  the last status transition (at once when it has none);
- its escalation falls due: the episode is triggered, not yet escalated, its priority is one
  of ``ruleset.escalate_priorities``, and ``ruleset.escalate_after_ms`` has passed since the
  episode started.

Before the earlier of these two times a tick decides nothing; at it, a tick decides what it
always did. Silences do not move the deadline: a tick never silences nor unsilences, it only
reads the silences in force to tell whether the escalation's notification is suppressed.

The ruleset's part is kept apart (``Pending``, then ``due_at``) so that a read model can keep
``Pending`` per alert and recompute every deadline of a tenant when its rules change, without
loading the alerts' states.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from helios.domain.alert import AlertState
from helios.domain.ruleset import Ruleset
from helios.domain.silence import Silence
from helios.domain.values import Millis, Priority, Status

IMMEDIATELY: Millis = -(2**62)
"""The deadline of an alert any tick would change (earlier than any time a tick carries)."""


@attrs.frozen(kw_only=True)
class Pending:
    """What a tick may act on in an alert's state, whatever the rules."""

    episode_started_at: Millis
    escalatable: bool
    """Triggered (not acknowledged nor resolved) and not yet escalated in this episode."""
    priority: Priority | None
    flapping: bool
    last_transition: Millis | None
    """The latest status transition of the alert (flapping clears a window after it)."""


def pending(state: AlertState) -> Pending | None:
    """What of ``state`` a tick may act on (None: no episode yet, no tick ever decides)."""
    episode = state.episode
    if episode is None:
        return None
    transitions = state.fold.transitions
    return Pending(
        episode_started_at=episode.started_at,
        escalatable=episode.status is Status.TRIGGERED
        and state.escalated_episode != episode.episode_id,
        priority=state.priority,
        flapping=state.flapping,
        last_transition=transitions[-1] if transitions else None,
    )


def due_at(what: Pending | None, ruleset: Ruleset) -> Millis | None:
    """The earliest time a tick under ``ruleset`` changes an alert in this state (None:
    no tick ever does, until a signal or a decision changes the state)."""
    if what is None:
        return None
    candidates: list[Millis] = []
    if what.flapping:
        candidates.append(
            IMMEDIATELY
            if what.last_transition is None
            else what.last_transition + ruleset.flap_window_ms
        )
    # Before flapping clears the priority is the one recorded; clearing it (which may move
    # the priority) is itself a decision, so the earlier deadline covers that case.
    if what.escalatable and what.priority in ruleset.escalate_priorities:
        candidates.append(what.episode_started_at + ruleset.escalate_after_ms)
    return min(candidates, default=None)


def next_deadline(
    state: AlertState, ruleset: Ruleset, silences: Sequence[Silence] = ()
) -> Millis | None:
    """The earliest time a ``Tick`` under ``ruleset`` and ``silences`` decides anything for
    this alert: a tick before it decides nothing; None when no tick ever would.

    ``silences`` are accepted for the tick's whole input, but move nothing (see the module).
    """
    del silences  # a tick's silences only choose how an escalation is notified
    return due_at(pending(state), ruleset)
