"""Drill: a leaked routing key is rotated with the runbook's commands; the old key stops working."""

from __future__ import annotations

import json
import time

from harness import Helios, Runbook, alertmanager_webhook


def test_a_leaked_key_is_rotated_and_refused_while_the_new_one_is_accepted(helios: Helios) -> None:
    runbook = Runbook("key-leaked")
    helios.env["HELIOS_API_KEY_CACHE_S"] = "0.5"  # the drill does not wait 30 s for the cache
    issued = helios.provision()
    helios.start("api")
    assert helios.post_alerts(issued["routing_key"], ["BeforeTheLeak"]) == [202]

    env = {
        **helios.env,
        "TENANT": issued["tenant_id"],
        "INTEGRATION": issued["integration_id"],
        "OLD_KEY": issued["routing_key"],
    }
    listing = runbook.run("diagnose", env)
    assert issued["integration_id"] in listing.stdout
    assert issued["routing_key"] not in listing.stdout  # the list never shows a key

    work = helios.root
    (work / "alert.json").write_text(json.dumps(alertmanager_webhook("AfterTheLeak")))
    recovered = runbook.run("recover", env, cwd=work)
    new_key = recovered.stdout.strip().splitlines()[-1]
    assert new_key and new_key != issued["routing_key"]

    time.sleep(1.0)  # the API's key cache (0.5 s here) reloads
    runbook.run("verify", env, cwd=work)
