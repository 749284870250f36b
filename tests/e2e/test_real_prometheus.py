"""The real flow: a real Prometheus rule fires → a real Alertmanager 0.25 → Helios's webhook →
worker and projector → ``GET /v1/alerts`` shows one deduplicated, scored alert; when the rule
stops firing (the rule file flipped, Prometheus sent SIGHUP) the alert turns resolved.

Needs the ``prometheus`` and ``prometheus-alertmanager`` Debian packages: without them the test
skips locally and fails in CI (HELIOS_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_query_api import World, free_port, start_world

from services import REQUIRE_SERVICES_VAR, services_required

FIRING = "vector(1)"
QUIET = "vector(1) < 0"


def binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} not installed (apt-get install {package})"
    if services_required():
        pytest.fail(f"{reason} and {REQUIRE_SERVICES_VAR}=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("prometheus"))
    yield next(made)
    next(made, None)


def rules(expr: str) -> str:
    group = {
        "name": "helios-test",
        "interval": "1s",
        "rules": [
            {
                "alert": "CheckoutDown",
                "expr": expr,
                "labels": {"service": "checkout", "severity": "critical"},
                "annotations": {"summary": "checkout is down"},
            }
        ],
    }
    return json.dumps({"groups": [group]})  # JSON is YAML


class Processes:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{Path(args[0]).name}.log").open("wb")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def test_a_prometheus_rule_becomes_one_scored_alert_and_resolves_when_it_stops(
    world: World, tmp_path: Path
) -> None:
    """Prometheus → Alertmanager → Helios, then the rule flipped and SIGHUP: resolved."""
    prometheus = binary("prometheus", "prometheus")
    alertmanager = binary("prometheus-alertmanager", "prometheus-alertmanager")
    key = world.tenants[0].webhook_key
    url = f"{world.base}/v1/ingest/alertmanager/{key}"
    am_port, prom_port = free_port(), free_port()
    am_config = {
        "route": {
            "receiver": "helios",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
        },
        # Two identical webhooks, like an HA pair of senders: Helios must keep one alert.
        "receivers": [
            {
                "name": "helios",
                "webhook_configs": [
                    {"url": url, "send_resolved": True},
                    {"url": url, "send_resolved": True},
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(json.dumps(am_config))
    rule_file = tmp_path / "rules.yml"
    rule_file.write_text(rules(FIRING))
    prom_config = {
        "global": {"evaluation_interval": "1s", "scrape_interval": "15s"},
        "rule_files": [str(rule_file)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(prom_config))
    processes = Processes(tmp_path)
    try:
        processes.start(
            "am",
            [
                alertmanager,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
        )
        prom = processes.start(
            "prom",
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=2s",
            ],
        )

        def checkout(status: str | None = None) -> list[dict[str, Any]]:
            params = {"label": "alertname=CheckoutDown"}
            if status:
                params["status"] = status
            return world.alerts(0, **params)

        try:
            firing = world.wait_for(lambda: checkout("triggered"), timeout_s=60)
        except AssertionError:
            pytest.fail(
                "no alert: "
                + processes.log("prometheus")
                + processes.log("prometheus-alertmanager")
            )
        assert len(checkout()) == 1
        alert = firing[0]
        assert alert["priority"] in ("P1", "P2") and alert["score"] >= 60
        assert alert["service"] == "checkout" and alert["severity"] == "critical"
        assert alert["sources"] == ["alertmanager"]

        rule_file.write_text(rules(QUIET))
        prom.send_signal(signal.SIGHUP)
        try:
            world.wait_for(lambda: checkout("resolved"), timeout_s=60)
        except AssertionError:
            pytest.fail("not resolved: " + processes.log("prometheus"))
        assert len(checkout()) == 1
        detail = world.get(f"/v1/alerts/{alert['id']}").json()
        assert [s["action"] for s in detail["signals"]] == ["trigger", "resolve"]
    finally:
        processes.stop()
