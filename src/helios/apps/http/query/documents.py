"""The JSON documents the query API answers with (msgspec Structs: they are the OpenAPI schema).

Times are RFC 3339 strings in UTC with millisecond precision (``2024-05-01T03:12:00.000Z``).
Structs rather than stdlib dataclasses: msgspec omits defaulted dataclass fields on decode.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(pattern=r"^[^\x00]*$", description="text without NUL")]
"""A string a request may send: anything but NUL, which no person means to type and
PostgreSQL text cannot hold."""


class FieldProblem(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []
    request_id: str = ""


class Factor(msgspec.Struct):
    name: str
    input: str
    effect: int


class LinkDocument(msgspec.Struct):
    href: str
    text: str


class AlertSummary(msgspec.Struct):
    id: str
    """The alert's id (stable, tenant-scoped)."""
    dedup_key: str
    status: Literal["triggered", "acknowledged", "resolved", "none"]
    priority: Literal["P1", "P2", "P3", "P4", "P5"] | None
    score: int | None
    severity: str
    summary: str
    service: str
    sources: list[str]
    labels: dict[str, str]
    occurrences: int
    episode: int
    duplicates: int
    flapping: bool
    silenced: bool
    group_key: str
    incident_id: str | None
    first_seen_at: str | None
    last_signal_at: str | None
    last_change_at: str | None
    links: list[LinkDocument]
    """The links of the latest trigger (see ``SignalDocument.links``)."""
    details: dict[str, Any]
    """The details of the latest trigger (see ``SignalDocument.details``)."""
    version: int = 0
    """Grows with every change of the alert (the log position of its latest projected event);
    send it as ``If-Match: "<version>"`` with an action to act only on what was seen."""


class AlertPage(msgspec.Struct):
    items: list[AlertSummary]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last page."""


_STORED_JSON = frozenset({"sources", "labels", "links", "details"})

ListedAlert: type[msgspec.Struct] = msgspec.defstruct(
    "ListedAlert",
    [
        (field.name, msgspec.Raw if field.name in _STORED_JSON else field.type)
        for field in msgspec.structs.fields(AlertSummary)
    ],
    module=__name__,
)
"""``AlertSummary`` as a list page sends it: its fields in its order, made from them, the JSON
the read model keeps (sources, labels, links, details) written into the response as it is
stored rather than parsed and encoded again (half of building a page of 500). The OpenAPI
document describes ``AlertSummary``; ``tests/property/test_listed_alert.py`` holds the two
to the same JSON."""


class ListedPage(msgspec.Struct):
    """``AlertPage`` as sent (see ``ListedAlert``)."""

    items: list[msgspec.Struct]
    next_cursor: str | None


class SignalDocument(msgspec.Struct):
    signal_id: str
    source: str
    integration: str
    action: Literal["trigger", "acknowledge", "resolve"]
    severity: str
    summary: str
    service: str
    labels: dict[str, str]
    occurred_at: str
    received_at: str
    late: bool
    links: list[LinkDocument]
    """Links the sender gave: PagerDuty ``links`` and ``client_url``; Alertmanager
    ``generatorURL`` and ``externalURL``; Grafana ``generatorURL``, ``silenceURL``,
    ``dashboardURL``, ``panelURL``, ``imageURL``; generic ``links``."""
    details: dict[str, Any]
    """What else the sender gave, as it came: PagerDuty ``payload.custom_details``,
    ``images``, ``client``; Alertmanager and Grafana annotations (``runbook_url`` …) and
    group fields; CloudWatch alarm fields; generic ``details``."""


class Decision(msgspec.Struct):
    version: int
    """The event's version in the alert's stream."""
    name: str
    """The event's stable wire name, e.g. ``helios.alert.triggered.v1``."""
    kind: str
    at: str | None
    position: int | None
    """The event's position in the tenant-wide log."""
    detail: dict[str, Any]


class Notification(msgspec.Struct):
    notification_id: str
    at: str
    reason: str
    outcome: Literal["requested", "suppressed"]
    priority: str | None
    channel: str
    because: str
    silence_ids: list[str]


class AlertDetail(msgspec.Struct):
    alert: AlertSummary
    factors: list[Factor]
    """The score's explanation: the ordered steps that reproduce it."""
    ruleset_version: int | None
    silence_ids: list[str]
    signals: list[SignalDocument]
    decisions: list[Decision]
    notifications: list[Notification]
    recent_changes: list[RecentChange]
    """Changes of the alert's service made shortly before its current episode started
    (``HELIOS_RECENT_CHANGES_WINDOW_S``), newest first, at most 20."""


class ChangeDocument(msgspec.Struct):
    """A change (a deploy, a config change): never an alert, shown beside them."""

    id: str
    """The change's content hash: the same change delivered twice has one id."""
    summary: str
    service: str
    """PagerDuty ``payload.component``, else ``payload.source``: alerts of this service show it."""
    origin: str
    """Where the sender says it happened (PagerDuty ``payload.source``)."""
    source: str
    """The format it came in (``pagerduty``)."""
    integration: str
    occurred_at: str
    received_at: str
    links: list[LinkDocument]
    details: dict[str, Any]
    """PagerDuty ``payload.custom_details`` (under ``payload``), ``images``, unknown fields."""


class ChangePage(msgspec.Struct):
    items: list[ChangeDocument]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last page."""


class RecentChange(ChangeDocument):
    seconds_before: int
    """How long before the alert's episode started it was made."""


class ActionAccepted(msgspec.Struct):
    action_id: str
    """The id of the recorded human action (its ingest id)."""
    alert_id: str
    action: Literal["acknowledge", "resolve"]
    status: Literal["accepted"]


class ActionOutcomeDocument(msgspec.Struct):
    action_id: str
    alert_id: str
    state: Literal["pending", "recorded", "rejected"]
    """pending: not recorded yet (or no such action of this tenant); recorded: decided as a
    human signal; rejected: refused by the workers (``reason``)."""
    reason: str


class IncidentSummary(msgspec.Struct):
    id: str
    group_key: str
    number: int
    status: Literal["open", "resolved"]
    priority: str | None
    alerts: int
    opened_at: str
    resolved_at: str | None
    last_change_at: str


class IncidentPage(msgspec.Struct):
    items: list[IncidentSummary]
    next_cursor: str | None


class IncidentMember(msgspec.Struct):
    alert_id: str | None
    dedup_key: str
    status: str
    priority: str | None


class TimelineEntry(msgspec.Struct):
    at: str
    kind: str
    dedup_key: str | None
    detail: dict[str, Any]


class IncidentDetail(msgspec.Struct):
    incident: IncidentSummary
    members: list[IncidentMember]
    timeline: list[TimelineEntry]


class NoteAdded(msgspec.Struct):
    incident_id: str
    author: str
    text: str
    at: str


class ActivityEntry(msgspec.Struct):
    id: int
    at: str
    kind: str
    subject: str
    text: str


class ActivityPage(msgspec.Struct):
    items: list[ActivityEntry]
    next_cursor: str | None


class Matcher(msgspec.Struct):
    name: Text
    op: Literal["=", "!=", "=~", "!~"]
    value: Text


class SilenceDocument(msgspec.Struct):
    id: str
    matchers: list[Matcher]
    starts_at: str
    ends_at: str
    created_by: str
    comment: str
    state: Literal["pending", "active", "expired"]


class SilenceList(msgspec.Struct):
    items: list[SilenceDocument]


class NewSilence(msgspec.Struct, forbid_unknown_fields=True):
    """A silence to create; ``starts_at`` defaults to now."""

    matchers: list[Matcher]
    ends_at: Text
    starts_at: Text | None = None
    comment: Text = ""


class SilencePreviewRequest(msgspec.Struct, forbid_unknown_fields=True):
    matchers: list[Matcher]


class SilencePreviewDocument(msgspec.Struct):
    items: list[AlertSummary]
    """The open alerts the silence would cover now, newest signal first."""
    scanned: int
    complete: bool
    """False: the tenant has more open alerts than were read (the oldest were not)."""


class NewNote(msgspec.Struct, forbid_unknown_fields=True):
    text: Text


class ActionRequest(msgspec.Struct, forbid_unknown_fields=True):
    note: Text = ""


class Rules(msgspec.Struct):
    version: int
    """0: the built-in defaults are in force."""
    published_at: str | None
    published_by: str
    ruleset: dict[str, Any]


class UserDocument(msgspec.Struct):
    id: str
    email: str
    role: Literal["viewer", "responder", "admin", "owner"]
    created_at: str
    locked_until: str | None
    status: Literal["invited", "active", "deactivated"]
    """``invited``: has not chosen a password yet; ``deactivated``: may not log in."""


class Me(msgspec.Struct):
    tenant_id: str
    user: UserDocument
    token_id: str
    token_kind: Literal["session", "personal"]
    token_expires_at: str | None


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    tenant: Text
    email: Text
    password: Text


class Session(msgspec.Struct):
    token: str
    """Send as ``Authorization: Bearer <token>``; shown once."""
    token_id: str
    expires_at: str
    user: UserDocument


class NewToken(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    expires_in_days: int | None = None


class TokenDocument(msgspec.Struct):
    id: str
    name: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class IssuedTokenDocument(msgspec.Struct):
    token: str
    """The secret, shown this once."""
    id: str
    name: str
    created_at: str
    expires_at: str | None


class TokenList(msgspec.Struct):
    items: list[TokenDocument]


class UserList(msgspec.Struct):
    items: list[UserDocument]


class NewUser(msgspec.Struct, forbid_unknown_fields=True):
    email: Text
    role: Literal["viewer", "responder", "admin", "owner"]
    password: Text | None = None


Role = Literal["viewer", "responder", "admin", "owner"]


class NewInvitation(msgspec.Struct, forbid_unknown_fields=True):
    email: Text
    role: Role


class InvitationDocument(msgspec.Struct):
    """An invited user; the link went to their email only (``emailed`` false: send it again
    with ``POST /v1/users/{user_id}/invitation``)."""

    user: UserDocument
    expires_at: str
    emailed: bool


class RoleChange(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


class LinkRedemption(msgspec.Struct, forbid_unknown_fields=True):
    token: Text
    """The token of the emailed link (after ``#token=`` in its address)."""
    password: Text


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    tenant: Text
    email: Text


class CredentialDocument(msgspec.Struct):
    """A session or personal token of a user (never its secret)."""

    id: str
    kind: Literal["session", "personal"]
    name: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class CredentialList(msgspec.Struct):
    items: list[CredentialDocument]
