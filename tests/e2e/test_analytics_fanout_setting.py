"""Copying decisions to the analytics queue is a setting: on with SQS, off by default with the
embedded queue (nothing in ``helios up`` reads that queue, and its file would keep a second
copy of the log forever)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from workers import drain

from helios.apps.application.envelopes import envelope_message
from helios.apps.composition import open_queue, open_services
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.settings import Settings
from helios.apps.views.positions import committed_position
from helios.apps.workers.runtime import ANALYTICS_QUEUE, read_models, run_followers


def test_the_fanout_is_on_with_sqs_and_off_with_the_embedded_queue_unless_set() -> None:
    """HELIOS_ANALYTICS_FANOUT overrides the default of the queue kind; a typo is refused."""
    assert Settings.from_env({}).analytics_fanout is False
    assert Settings.from_env({"HELIOS_QUEUE": "sqs"}).analytics_fanout is True
    assert Settings.from_env({"HELIOS_ANALYTICS_FANOUT": "on"}).analytics_fanout is True
    off = {"HELIOS_QUEUE": "sqs", "HELIOS_ANALYTICS_FANOUT": "off"}
    assert Settings.from_env(off).analytics_fanout is False
    with pytest.raises(ValueError, match="HELIOS_ANALYTICS_FANOUT"):
        Settings.from_env({"HELIOS_ANALYTICS_FANOUT": "maybe"})


@pytest.mark.parametrize(("setting", "copied"), [({}, False), ({"analytics_fanout": True}, True)])
def test_the_followers_copy_decisions_to_the_analytics_queue_only_when_set(
    tmp_path: Path, setting: dict[str, bool], copied: bool
) -> None:
    """With the embedded queue's default nothing reaches the analytics queue; set, every
    decision does."""
    settings = Settings(data_dir=tmp_path / "data", follower_poll_s=0.05, **setting)
    envelopes = list(TrafficGenerator(tenant="acme", start=1_700_000_000_000, seed=2).envelopes(20))

    async def run() -> int:
        async with open_services(settings) as services:
            await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            await drain(services)
            head = services.store.max_position()
            stop = asyncio.Event()
            followers = asyncio.create_task(run_followers(services, stop))
            db = await read_models(services)
            try:
                async with asyncio.timeout(30):
                    while committed_position(db, "projector") < head:
                        await asyncio.sleep(0.05)
                    if copied:
                        while committed_position(db, "fanout") < head:
                            await asyncio.sleep(0.05)
            finally:
                stop.set()
                await followers
                db.close()
            async with open_queue(settings, services.blobs, name=ANALYTICS_QUEUE) as analytics:
                return await analytics.depth()

    depth = asyncio.run(run())
    assert (depth > 0) is copied
