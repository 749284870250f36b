"""Grafana alerting webhooks as signals: Alertmanager's mapping, with Grafana's extras.

Each ``alerts[i]`` maps exactly as in ``helios.domain.normalize.alertmanager`` (status, times,
fingerprint, labels, severity, summary, service). The Grafana extras:

- ``generatorURL`` (the alert rule), ``dashboardURL``, ``panelURL``, ``silenceURL`` and
  ``imageURL`` become links, with the group's ``externalURL``;
- ``values`` and ``valueString`` stay with the alert in ``details``; the group's ``orgId``,
  ``title``, ``message`` and ``state`` are kept in ``details.group``.
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from helios.domain.normalize import JsonDecoder, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.normalize.alertmanager import (
    AlertmanagerAlert,
    AlertmanagerWebhook,
    normalize_webhook,
    typed_webhook,
    typed_webhook_source,
    webhook_fits,
)
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope

GRAFANA_LINKS: tuple[tuple[str, str], ...] = (
    ("generatorURL", "Alert rule"),
    ("dashboardURL", "Dashboard"),
    ("panelURL", "Panel"),
    ("silenceURL", "Silence"),
    ("imageURL", "Image"),
)


def normalize_grafana(
    envelope: Envelope, ruleset: Ruleset, document: check.JsonObject, decode: JsonDecoder
) -> NormalizeResult:
    """Each alert of a Grafana webhook as a signal, or a rejection of the batch."""
    del decode  # the webhook is one JSON document: nothing nested to decode
    return normalize_webhook(
        envelope, ruleset, document, alert_links=GRAFANA_LINKS, external_link_text="Grafana"
    )


class GrafanaAlert(AlertmanagerAlert, forbid_unknown_fields=True):
    """One ``alerts[i]`` of a Grafana webhook: Alertmanager's, with Grafana's extras."""

    dashboardURL: str | UnsetType = UNSET
    panelURL: str | UnsetType = UNSET
    silenceURL: str | UnsetType = UNSET
    imageURL: str | UnsetType = UNSET
    valueString: str | UnsetType = UNSET
    values: dict[str, float | check.Int64] | UnsetType = UNSET


class GrafanaWebhook(AlertmanagerWebhook, forbid_unknown_fields=True):
    """A Grafana webhook: Alertmanager's, with Grafana's extras."""

    alerts: list[GrafanaAlert]  # type: ignore[assignment]  # its alerts have Grafana's fields
    orgId: check.Int64 | UnsetType = UNSET
    title: str | UnsetType = UNSET
    state: str | UnsetType = UNSET
    message: str | UnsetType = UNSET


_GRAFANA = typed_webhook_source(
    GrafanaWebhook, GrafanaAlert, alert_links=GRAFANA_LINKS, external_link_text="Grafana"
)


def typed_grafana(envelope: Envelope, ruleset: Ruleset, version: int) -> NormalizeResult | None:
    """``normalize_grafana`` of a well-formed webhook by typed decoding; None when the body is
    not one (the field checks then normalize it)."""
    del version  # no version changed this mapping
    return typed_webhook(envelope, ruleset, _GRAFANA)


def grafana_fits(envelope: Envelope, version: int) -> bool:
    """Whether ``typed_grafana`` maps the envelope to signals (see ``webhook_fits``)."""
    del version  # no version changed this mapping
    return webhook_fits(envelope.body, _GRAFANA)
