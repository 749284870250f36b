"""Human actions (acknowledge, resolve) as envelopes, so they are recorded and replayed too.

The API turns ``POST /v1/alerts/{id}/acknowledge`` into an envelope of source ``user`` with a
small JSON body ``{"action": "acknowledge", "dedup_key": "…", "user": "u-42", "note": "…"}``.
The signal's source is ``user:<id>`` and it occurred when the API accepted it.
"""

from __future__ import annotations

import json

from helios.domain.identity import signal_id
from helios.domain.normalize import FieldError, JsonDecoder, Normalized, NormalizeResult, Rejected
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action, Envelope, Signal

_ACTIONS = {"acknowledge": Action.ACKNOWLEDGE, "resolve": Action.RESOLVE}
MAX_USER_CHARS = 128
MAX_NOTE_CHARS = 1024


def user_action_body(action: str, *, dedup_key: str, user: str, note: str = "") -> bytes:
    """The body of a human action's envelope, as ``normalize_user`` reads it."""
    document = {"action": action, "dedup_key": dedup_key, "user": user}
    if note:
        document["note"] = note
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def normalize_user(envelope: Envelope, ruleset: Ruleset, decode: JsonDecoder) -> NormalizeResult:
    """A human action envelope to its signal."""
    try:
        document = decode(envelope.body)
    except ValueError:
        return Rejected(
            reason="invalid JSON", errors=(FieldError(field="body", message="is not JSON"),)
        )
    if not isinstance(document, dict):
        return Rejected(
            reason="not an object", errors=(FieldError(field="body", message="must be an object"),)
        )
    errors: list[FieldError] = []
    raw_action = document.get("action")
    action = _ACTIONS.get(raw_action) if isinstance(raw_action, str) else None
    if action is None:
        errors.append(FieldError(field="action", message="must be acknowledge or resolve"))
    dedup_key = document.get("dedup_key")
    if not isinstance(dedup_key, str) or not dedup_key or len(dedup_key) > 255:
        errors.append(FieldError(field="dedup_key", message="must be a string of 1..255 chars"))
    user = document.get("user")
    if not isinstance(user, str) or not user or len(user) > MAX_USER_CHARS:
        errors.append(
            FieldError(field="user", message=f"must be a string of 1..{MAX_USER_CHARS} chars")
        )
    note = document.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        errors.append(
            FieldError(field="note", message=f"must be a string of at most {MAX_NOTE_CHARS} chars")
        )
    if (
        errors
        or action is None
        or not isinstance(dedup_key, str)
        or not isinstance(user, str)
        or not isinstance(note, str)
    ):
        return Rejected(reason="invalid user action", errors=tuple(errors))
    source = f"user:{user}"
    summary = f"{action.value}d by {source}" if not note else f"{action.value}d by {source}: {note}"
    severity = ruleset.default_severity
    at = envelope.received_at
    sid = signal_id(
        tenant=envelope.tenant,
        source=source,
        dedup_key=dedup_key,
        action=action,
        occurred_at=at,
        severity=severity,
        summary=summary,
        labels=(),
    )
    details = json.dumps({"note": note}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    signal = Signal(
        signal_id=sid,
        tenant=envelope.tenant,
        integration=envelope.integration,
        source=source,
        dedup_key=dedup_key,
        action=action,
        severity=severity,
        summary=summary,
        occurred_at=at,
        received_at=at,
        details=details,
    )
    return Normalized(signals=(signal,))
