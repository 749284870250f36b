"""HELIOS_SQS_FIFO: how an operator asks for FIFO ingest queues."""

from __future__ import annotations

import pytest

from helios.apps.composition import is_fifo
from helios.apps.settings import InvalidSetting, Settings


def test_fifo_is_an_sqs_setting_and_a_wrong_value_or_combination_is_named() -> None:
    """HELIOS_SQS_FIFO: true/false; true without HELIOS_QUEUE=sqs is refused, not ignored."""
    assert Settings.from_env({"HELIOS_QUEUE": "sqs", "HELIOS_SQS_FIFO": "true"}).sqs_fifo
    assert not Settings.from_env({"HELIOS_QUEUE": "sqs"}).sqs_fifo
    with pytest.raises(InvalidSetting, match="HELIOS_SQS_FIFO=true needs HELIOS_QUEUE=sqs"):
        Settings.from_env({"HELIOS_SQS_FIFO": "1"})
    with pytest.raises(InvalidSetting, match="HELIOS_SQS_FIFO must be"):
        Settings.from_env({"HELIOS_QUEUE": "sqs", "HELIOS_SQS_FIFO": "maybe"})


def test_only_the_ingest_queue_becomes_fifo() -> None:
    """The analytics queue has no per-tenant decision to serialize: it stays standard."""
    settings = Settings.from_env({"HELIOS_QUEUE": "sqs", "HELIOS_SQS_FIFO": "yes"})
    assert is_fifo(settings, "ingest")
    assert not is_fifo(settings, "analytics")
    assert not is_fifo(Settings.from_env({"HELIOS_QUEUE": "sqs"}), "ingest")
