"""Helios's embedded default (``helios up``) side by side with Prometheus Alertmanager 0.25.

    python bench/peer.py [--rounds 3] [--duration 10] [--active 100000] [--quick] [--no-wrk]
                         [--only load|state] [--helios-setting HELIOS_NAME=VALUE ...]

Expects ``prometheus-alertmanager`` (Debian package) and ``wrk`` on the PATH and installs
nothing; ``--no-wrk`` loads both servers from concurrent httpx clients in this process instead
(much slower: the client is then the bottleneck, so the throughput ratios tend to 1).

Each server is started fresh for every measure of every round — its own temporary directory,
a free port on 127.0.0.1 — and the rounds are interleaved (Alertmanager and Helios alternate
which goes first), so a noisy neighbour on the shared cores hits both alike. The throughput
rounds run first, then the big-state rounds; medians of the rounds are reported. Stopped early
(Ctrl-C, SIGTERM), it reports the rounds that measured both systems.

- Alertmanager: ``prometheus-alertmanager`` with one ``null`` receiver (no integrations),
  ``group_by: [alertname, service]``, ``resolve_timeout: 1h`` (nothing expires during a round),
  clustering off. Alerts go to ``POST /api/v2/alerts`` (a JSON list of alerts).
- Helios: ``python -m helios.apps.cli up`` over a fresh data directory, the ingestion API's
  rate limits raised out of the way, everything else as shipped (SQLite store, durable
  embedded queue, JSON logs at info level written to a file beside the data directory).
  Alerts go to the Alertmanager webhook endpoint (``/v1/ingest/alertmanager/<key>``, the key
  ``helios up`` wrote to ``integration.json``), in the webhook's format (an ``alerts`` list).

Every alert is distinct by a counter in its labels (``bench_seq``, ``instance``; the webhook
copy also carries a fingerprint made from it, as Alertmanager would send), a hundred alerts per
``service``. Measured:

- accepted requests/s and alerts/s, p50 and p99 latency, under wrk (one thread, 32
  connections, ``--duration`` seconds, Lua scripts generated into the temporary directory): new
  distinct alerts 1 and 10 per request, and the same alert again and again;
- seconds from the first send until 10,000 distinct alerts (10 per request, sent by wrk
  with a script that stops after exactly that many) are all listed by each one's API:
  Alertmanager ``GET /api/v2/alerts``, Helios ``GET /v1/alerts`` with the responder token from
  ``access.json`` (pages of 500, counted); the polls are what limits its resolution;
- memory idle, at 10,000 and at ``--active`` open alerts: PSS from ``/proc/PID/smaps_rollup``,
  summed over the process tree (Helios: every process under ``helios up``);
- seconds from the ``--active`` alerts all listed until the background work they made is
  done (Helios: the ingest queue empty, every follower of the log caught up and analytics
  published, as its ``/metrics`` gauges say; Alertmanager has none: 0);
- idle CPU with ``--active`` open alerts over a 30 s window once that is done (utime + stime
  from ``/proc/PID/stat``, summed over the tree), and disk used per alert (the data
  directory's allocated blocks over the number of alerts);
- the load average at the start and the end of each round.

Output: one table with the medians and the ratios Helios/Alertmanager, what differs in the
work each does, then one line per measure, ``ratio <measure>: <Helios/Alertmanager>``.
Progress goes to stderr, one line per step.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ALERTMANAGER_BINARY = "prometheus-alertmanager"
VISIBLE = 10_000
"""How many distinct alerts the visibility measure waits for."""
PER_SERVICE = 100
"""Distinct alerts per ``service`` label: both systems group by it."""
CONNECTIONS = 32
SENDERS = 16
"""Concurrent httpx senders of the fixed batches with ``--no-wrk``."""
LOAD_BATCH = 100
"""Alerts per request when loading the big state (not a measure: only to get there)."""
CPU_WINDOW_S = 30.0
SETTLE_S = 3.0
"""Wait before reading memory, so the allocators are at rest."""
READY_TIMEOUT_S = 60.0


def progress(message: str) -> None:
    print(f"[peer {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- what each one is sent ---------------------------------------------------------------------
# Bodies are templates with markers a counter fills in, the same for the Lua scripts and the
# Python senders: __N__ the counter, __S__ its service, __F__ a 16-hex-digit fingerprint.

MARKERS = ("N", "S", "F")


def fill(template: str, n: int) -> str:
    return (
        template.replace("__N__", str(n))
        .replace("__S__", str(n // PER_SERVICE))
        .replace("__F__", f"{n:016x}")
    )


@dataclass(frozen=True)
class Format:
    """How one system is sent alerts: an alert template and what surrounds a batch of them."""

    alert: str
    prefix: str
    suffix: str

    def body(self, numbers: Sequence[int]) -> str:
        return self.prefix + ",".join(fill(self.alert, n) for n in numbers) + self.suffix


def _labels() -> dict[str, str]:
    return {
        "alertname": "BenchAlert",
        "service": "svc-__S__",
        "instance": "host-__N__:9100",
        "severity": "critical",
        "bench_seq": "__N__",
    }


def alertmanager_format(starts_at: str) -> Format:
    alert = {
        "labels": _labels(),
        "annotations": {"summary": "bench alert __N__ on host-__N__"},
        "startsAt": starts_at,
        "generatorURL": "http://prometheus.bench:9090/graph?g0.expr=up",
    }
    return Format(alert=json.dumps(alert), prefix="[", suffix="]")


def helios_format(starts_at: str) -> Format:
    """The webhook Alertmanager would send for these alerts (version 4)."""
    alert = {
        "status": "firing",
        "labels": _labels(),
        "annotations": {"summary": "bench alert __N__ on host-__N__"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.bench:9090/graph?g0.expr=up",
        "fingerprint": "__F__",
    }
    webhook = {
        "receiver": "helios",
        "status": "firing",
        "alerts": ["__ALERTS__"],
        "groupLabels": {"alertname": "BenchAlert"},
        "commonLabels": {"alertname": "BenchAlert"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.bench:9093",
        "version": "4",
        "groupKey": '{}:{alertname="BenchAlert"}',
        "truncatedAlerts": 0,
    }
    prefix, suffix = json.dumps(webhook).split('"__ALERTS__"')
    return Format(alert=json.dumps(alert), prefix=prefix, suffix=suffix)


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(
    fmt: Format, *, per_request: int, repeated: bool = False, first: int = 0, requests: int = 0
) -> str:
    """A wrk script posting ``per_request`` alerts per request, numbered from ``first``, or the
    same body every time when ``repeated``.

    With ``requests``, it sends that many and, once all are answered, stops its thread and
    prints ``bench-answered <n> failed <m>`` on stderr (unbuffered); connections that have
    nothing left to send meanwhile ask for a path that does not exist (404) once a second,
    which neither server counts as work."""
    lines = [
        f"local counter = {first}",
        f"local alert = {_lua_string(fmt.alert)}",
        f"local prefix = {_lua_string(fmt.prefix)}",
        f"local suffix = {_lua_string(fmt.suffix)}",
        f"local per_request = {per_request}",
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        "local function one(n)",
        "  local values = {N = tostring(n), S = tostring(math.floor(n / "
        f'{PER_SERVICE})), F = string.format("%016x", n)}}',
        '  return (alert:gsub("__(%u)__", values))',
        "end",
        "local function numbered()",
        "  local parts = {}",
        "  for i = 1, per_request do",
        "    parts[i] = one(counter)",
        "    counter = counter + 1",
        "  end",
        '  return wrk.format(nil, nil, nil, prefix .. table.concat(parts, ",") .. suffix)',
        "end",
    ]
    if repeated:
        lines += [
            "local body = prefix .. one(0) .. suffix",
            "request = function()",
            "  return wrk.format(nil, nil, nil, body)",
            "end",
        ]
    elif requests:
        lines += [
            f"local limit = {requests}",
            "local sent, answered, failed = 0, 0, 0",
            # wrk calls request() once per thread before connecting, to check what it returns,
            # and never sends that one: it must not take a number.
            "local checked = false",
            "request = function()",
            '  if not checked then checked = true; return wrk.format("GET", "/bench-check") end',
            '  if sent >= limit then return wrk.format("GET", "/bench-nothing-here") end',
            "  sent = sent + 1",
            "  return numbered()",
            "end",
            "delay = function()",
            "  if sent >= limit then return 1000 end",
            "  return 0",
            "end",
            "response = function(status, headers, body)",
            "  if status == 404 then return end",
            "  answered = answered + 1",
            "  if status >= 300 then failed = failed + 1 end",
            "  if answered == limit then",
            '    io.stderr:write(("bench-answered %d failed %d\\n"):format(answered, failed))',
            "    wrk.thread:stop()",
            "  end",
            "end",
        ]
    else:
        lines += ["request = numbered"]
    return "\n".join(lines) + "\n"


# --- the process tree: memory and CPU ----------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (read from /proc, so children it forks count)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        ppid = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += parents.get(pid, [])
    return tree


def memory_mib(root: int) -> dict[str, float]:
    """PSS and RSS summed over the tree, in MiB (shared pages split between sharers by PSS)."""
    totals = {"pss": 0.0, "rss": 0.0}
    for pid in process_tree(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue  # it exited meanwhile
        for key, name in (("pss", "Pss:"), ("rss", "Rss:")):
            found = re.search(rf"^{name}\s+(\d+) kB", rollup, re.MULTILINE)
            if found:
                totals[key] += int(found.group(1)) / 1024
    return totals


def cpu_seconds(root: int) -> tuple[float, float]:
    """CPU time of the tree in seconds, two ways: utime + stime from ``/proc/PID/stat`` (whole
    processes, exited threads included, in 10 ms ticks) and the sum of the live threads'
    ``schedstat`` (nanoseconds: it tells an idle process's few milliseconds from zero)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stat_ticks, sched_ns = 0, 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            stat_ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
            for task in Path(f"/proc/{pid}/task").iterdir():
                sched_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue  # it exited meanwhile
    return stat_ticks / ticks, sched_ns / 1e9


def cpu_busy(root: int, window_s: float) -> float:
    """Percent of one core the tree used over the next ``window_s`` seconds.

    The larger of the two readings' differences: ticks cannot see less than 10 ms, and a
    thread that exits during the window takes its schedstat with it."""
    before, began = cpu_seconds(root), time.perf_counter()
    time.sleep(window_s)
    after, elapsed = cpu_seconds(root), time.perf_counter() - began
    return max(after[0] - before[0], after[1] - before[1]) / elapsed * 100


def disk_bytes(directory: Path) -> int:
    """Bytes allocated to the files under ``directory`` (what ``du`` counts)."""
    total = 0
    for path in directory.rglob("*"):
        try:
            total += path.lstat().st_blocks * 512
        except OSError:
            continue
    return total


# --- the two servers ---------------------------------------------------------------------------


HELIOS_SETTINGS: dict[str, str] = {}
"""``--helios-setting``s: given to ``helios up`` over the defaults (nothing else inherited)."""


def add_helios_setting_option(parser: argparse.ArgumentParser) -> None:
    """The ``--helios-setting NAME=VALUE`` option (repeatable) of the benchmarks that start
    ``helios up`` through ``Helios``."""
    parser.add_argument(
        "--helios-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a HELIOS_* setting for helios up, e.g. HELIOS_UP_PROJECTOR_CHILD=true (repeatable;"
        " HELIOS_* variables of the environment are not passed on)",
    )


def take_helios_settings(parser: argparse.ArgumentParser, settings: Sequence[str]) -> None:
    """Keep the ``--helios-setting``s for every ``helios up`` started, and say which
    ``HELIOS_*`` variables of the environment are left out: each one runs as shipped."""
    for setting in settings:
        name, equals, value = setting.partition("=")
        if not equals or not name.startswith("HELIOS_"):
            parser.error(f"--helios-setting wants HELIOS_NAME=VALUE, not {setting!r}")
        HELIOS_SETTINGS[name] = value
    ignored = sorted(name for name in os.environ if name.startswith("HELIOS_"))
    if ignored:
        progress(
            f"not passed to helios up: {', '.join(ignored)} from the environment"
            " (give a setting with --helios-setting NAME=VALUE)"
        )


class Server:
    """One fresh server in its own directory; a context manager stops it."""

    name: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    fmt: Format
    post_url: str

    def count(self, client: httpx.Client, *, expected: int) -> int:
        """How many of the alerts sent its API lists now."""
        raise NotImplementedError

    def has(self, client: httpx.Client, seq: int) -> bool:
        """Whether the alert numbered ``seq`` is listed (cheaper than counting)."""
        raise NotImplementedError

    backlog = False
    """Whether it queues work for what it accepted, to do after answering (``behind``)."""

    def behind(self, client: httpx.Client) -> int:
        """How much work it still has queued for what it accepted (0: none)."""
        return 0

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: its directory is thrown away, so there is no need
        to wait for Helios to drain a backlog (``kill -9`` loses nothing it accepted anyway)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def die_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM when the benchmark dies, even by SIGKILL
    (a test's timeout), so that no server outlives it."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except (httpx.TransportError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")
        time.sleep(0.1)


class Alertmanager(Server):
    name = "Alertmanager"

    def __init__(self, workdir: Path, starts_at: str) -> None:
        self.data_dir = workdir / "alertmanager-data"
        config = {
            "global": {"resolve_timeout": "1h"},
            "route": {
                "receiver": "null",
                "group_by": ["alertname", "service"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
            },
            "receivers": [{"name": "null"}],
        }
        config_file = workdir / "alertmanager.yml"
        config_file.write_text(json.dumps(config))  # JSON is YAML
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.post_url = f"{self.base}/api/v2/alerts"
        self.fmt = alertmanager_format(starts_at)
        self.log = (workdir / "alertmanager.log").open("wb")
        binary = shutil.which(ALERTMANAGER_BINARY) or ALERTMANAGER_BINARY
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - no other thread runs here then
        )
        wait_until(
            lambda: httpx.get(f"{self.base}/-/ready").status_code == 200,
            "Alertmanager",
            READY_TIMEOUT_S,
        )

    def count(self, client: httpx.Client, *, expected: int) -> int:
        if expected > VISIBLE:
            # The whole list of a big state is tens of MB, built and then garbage in its heap:
            # its own gauge of the alerts it holds says the same without that.
            text = client.get(f"{self.base}/metrics").text
            return sum(
                int(float(m)) for m in re.findall(r"^alertmanager_alerts\{.*\} (\S+)$", text, re.M)
            )
        alerts = client.get(f"{self.base}/api/v2/alerts").json()
        return len(alerts)

    def has(self, client: httpx.Client, seq: int) -> bool:
        found = client.get(
            f"{self.base}/api/v2/alerts", params={"filter": f'bench_seq="{seq}"'}
        ).json()
        return bool(found)

    def stop(self) -> None:
        super().stop()
        self.log.close()


class Helios(Server):
    name = "Helios"
    backlog = True

    def __init__(self, workdir: Path, starts_at: str) -> None:
        self.data_dir = workdir / "helios-data"
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        # The embedded default as shipped: no inherited HELIOS_* setting may point it elsewhere.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
        env.update(HELIOS_SETTINGS)
        env.update(
            HELIOS_DATA_DIR=str(self.data_dir),
            HELIOS_HTTP_HOST="127.0.0.1",
            HELIOS_HTTP_PORT=str(port),
            HELIOS_LOG_FORMAT="json",
            HELIOS_API_RATE_PER_INTEGRATION="1e9",
            HELIOS_API_BURST_PER_INTEGRATION="1000000000",
            HELIOS_API_RATE_PER_TENANT="1e9",
            HELIOS_API_BURST_PER_TENANT="1000000000",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])
            ),
        )
        self.log = (workdir / "helios.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helios.apps.cli", "up", "--port", str(port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - no other thread runs here then
        )
        wait_until(
            lambda: (
                (self.data_dir / "access.json").exists()
                and httpx.get(f"{self.base}/readyz").status_code == 200
            ),
            "helios up",
            READY_TIMEOUT_S,
        )
        key = json.loads((self.data_dir / "integration.json").read_text())["routing_key"]
        token = json.loads((self.data_dir / "access.json").read_text())["token"]
        self.post_url = f"{self.base}/v1/ingest/alertmanager/{key}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.fmt = helios_format(starts_at)

    def count(self, client: httpx.Client, *, expected: int) -> int:
        total, cursor = 0, None
        while True:
            params = {"limit": "500"}
            if cursor:
                params["cursor"] = cursor
            response = client.get(f"{self.base}/v1/alerts", params=params, headers=self.headers)
            response.raise_for_status()
            page = response.json()
            total += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return total

    def has(self, client: httpx.Client, seq: int) -> bool:
        response = client.get(
            f"{self.base}/v1/alerts",
            params={"limit": "1", "label": f"bench_seq={seq}"},
            headers=self.headers,
        )
        response.raise_for_status()
        return bool(response.json()["items"])

    def behind(self, client: httpx.Client) -> int:
        """Envelopes on the ingest queue plus every follower's lag and what analytics has yet
        to publish, in log entries."""
        response = client.get(f"{self.base}/metrics")
        response.raise_for_status()
        gauges = re.findall(
            r"^helios_(?:queue_depth\{.*\}|follower_lag_events\{.*\}|analytics_lag_events) (\S+)$",
            response.text,
            re.M,
        )
        if not gauges:
            raise RuntimeError("Helios's /metrics has no queue depth or follower lag")
        return sum(int(float(value)) for value in gauges)

    def stop(self) -> None:
        super().stop()
        self.log.close()


SYSTEMS: dict[str, type[Server]] = {"Alertmanager": Alertmanager, "Helios": Helios}


@contextmanager
def running(system: str, starts_at: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix=f"helios-bench-peer-{system.lower()}-") as tmp:
        server = SYSTEMS[system](Path(tmp), starts_at)
        try:
            yield server
        finally:
            server.stop()
            # A server that died early leaves its log: show it rather than a bare timeout.
            if server.process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL, None):
                log = Path(tmp) / f"{system.lower()}.log"
                progress(f"{system} exited {server.process.returncode}: {log.read_text()[-2000:]}")


# --- load --------------------------------------------------------------------------------------


def wrk_load(
    server: Server, workdir: Path, *, per_request: int, repeated: bool, seconds: int
) -> dict[str, float]:
    script = workdir / f"{server.name.lower()}-{per_request}-{'same' if repeated else 'new'}.lua"
    script.write_text(lua_script(server.fmt, per_request=per_request, repeated=repeated))
    output = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency",
         "-s", str(script), server.post_url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    sent = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    assert sent, output
    requests = int(sent.group(1))
    elapsed = float(sent.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[sent.group(3)]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(refused.group(1)) if refused else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        progress(f"  wrk socket errors: {socket_errors.group(1)}")
    return {
        "rps": (requests - errors) / elapsed,
        "p50_ms": _wrk_ms(output, "50%"),
        "p99_ms": _wrk_ms(output, "99%"),
        "refused": float(errors),
    }


def _wrk_ms(output: str, label: str) -> float:
    # wrk pads a value in seconds with a space ("1.16s "), and writes minutes as "1.02m".
    found = rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$"
    match = re.search(found, output, re.MULTILINE)
    assert match, output
    value, unit = float(match.group(1)), match.group(2)
    return {"us": value / 1000, "ms": value, "s": value * 1000, "m": value * 60_000}[unit]


async def _post_all(
    server: Server,
    bodies: Callable[[int], str | None],
    *,
    concurrency: int,
    deadline: float | None = None,
) -> tuple[list[float], int, int]:
    """Post ``bodies(i)`` for i = 0, 1, … from ``concurrency`` senders until it answers None or
    the deadline passes; (latencies of the accepted, accepted, refused)."""
    latencies: list[float] = []
    refused = 0
    taken = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:

        async def sender() -> None:
            nonlocal taken, refused
            while deadline is None or time.perf_counter() < deadline:
                body = bodies(taken)
                taken += 1
                if body is None:
                    return
                started = time.perf_counter()
                response = await client.post(server.post_url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    latencies.append(time.perf_counter() - started)
                else:
                    refused += 1
                    if refused == 1:
                        progress(f"  refused: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies, len(latencies), refused


def wrk_send(server: Server, first: int, count: int, per_request: int) -> int:
    """Post alerts ``first`` … ``first + count - 1`` with wrk, ``per_request`` to a request;
    the number refused."""
    requests, rest = divmod(count, per_request)
    assert requests and not rest, (count, per_request)
    script = server.data_dir.parent / f"send-{first}-{count}.lua"
    script.write_text(
        lua_script(server.fmt, per_request=per_request, first=first, requests=requests)
    )
    connections = min(CONNECTIONS, requests)
    # The script stops its thread once every request is answered, but wrk itself waits out its
    # duration: it is interrupted (SIGINT: it prints its summary and exits) on the script's line.
    wrk = subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", "-d3600s", "--timeout", "60s", "-s", str(script),
         server.post_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - no other thread runs here then
    )  # fmt: skip
    assert wrk.stderr is not None
    answered = None
    for line in wrk.stderr:
        answered = re.search(r"bench-answered (\d+) failed (\d+)", line)
        if answered:
            wrk.send_signal(signal.SIGINT)
            break
    output, errors = wrk.communicate(timeout=60)
    assert answered and int(answered.group(1)) == requests, (output, errors)
    return int(answered.group(2))


def send_alerts(server: Server, first: int, count: int, per_request: int) -> int:
    """Post alerts ``first`` … ``first + count - 1``, ``per_request`` to a request; the number
    refused."""

    def body(i: int) -> str | None:
        start = first + i * per_request
        end = min(first + count, start + per_request)
        return server.fmt.body(range(start, end)) if start < end else None

    _, _, refused = asyncio.run(_post_all(server, body, concurrency=SENDERS))
    return refused


def python_load(
    server: Server, *, per_request: int, repeated: bool, seconds: int
) -> dict[str, float]:
    """The wrk measure with httpx clients in this process instead."""
    same = server.fmt.body([0])

    def body(i: int) -> str:
        return same if repeated else server.fmt.body(range(i * per_request, (i + 1) * per_request))

    began = time.perf_counter()
    latencies, accepted, refused = asyncio.run(
        _post_all(server, body, concurrency=CONNECTIONS, deadline=began + seconds)
    )
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "rps": accepted / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "refused": float(refused),
    }


# --- the measures ------------------------------------------------------------------------------

LOADS = (
    ("distinct, 1 per request", 1, False),
    ("distinct, 10 per request", 10, False),
    ("repeated, 1 per request", 1, True),
)


@dataclass
class Sizes:
    seconds: int
    active: int
    visible: int
    cpu_window_s: float
    settle_s: float = SETTLE_S


@dataclass
class Results:
    """Every sample of every measure, per system: ``samples[measure][system]``."""

    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    loads: list[tuple[str, tuple[float, ...], tuple[float, ...]]] = field(default_factory=list)

    def add(self, measure: str, unit: str, system: str, value: float) -> None:
        self.units[measure] = unit
        self.samples.setdefault(measure, {}).setdefault(system, []).append(value)

    def keep_paired(self) -> None:
        """Keep, for each measure, the rounds that measured both systems: a round adds at most
        one sample per measure and system, so the i-th samples of both are from round i."""
        for measure, per_system in list(self.samples.items()):
            both = min(len(per_system.get(system, [])) for system in SYSTEMS)
            if not both:
                del self.samples[measure]
                continue
            for system in SYSTEMS:
                per_system[system] = per_system[system][:both]

    def rounds(self, measure: str) -> int:
        return min(len(self.samples[measure].get(system, [])) for system in SYSTEMS)

    def median(self, measure: str, system: str) -> float | None:
        taken = self.samples.get(measure, {}).get(system)
        return statistics.median(taken) if taken else None


def wait_visible(
    server: Server, client: httpx.Client, total: int, *, timeout_s: float, spacing: float = 2.0
) -> int:
    """Poll until ``total`` alerts are listed: first for the last one sent (cheap), then the
    count; the count seen last. Polls are ``spacing`` times as long apart as they take."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        began = time.monotonic()
        try:
            last_sent = server.has(client, total - 1)
            took = time.monotonic() - began
            if last_sent:
                seen = server.count(client, expected=total)
                if seen >= total:
                    return seen
        except httpx.TransportError as error:
            # A keep-alive connection the server closed as the next poll went out (polls can
            # be further apart than its idle timeout): poll again on a new one.
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited while being polled") from error
            progress(f"  poll failed ({error!r}); polling again")
            continue
        # Polling takes the server's time too (Helios's label filter scans its rows): keep it
        # to a fraction of the wall clock. Spaced by the cheap check only: a count that fell
        # short is followed by the next check soon, the few missing alerts are near.
        time.sleep(min(10.0, max(0.2, spacing * took)))
    raise TimeoutError(f"{server.name}: {seen} of {total} alerts visible after {timeout_s:.0f} s")


def wait_caught_up(server: Server, client: httpx.Client, *, timeout_s: float) -> None:
    """Poll until ``server`` has no work left queued for what it accepted."""
    deadline = time.monotonic() + timeout_s
    left = server.behind(client)
    while left:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{server.name}: {left} still queued after {timeout_s:.0f} s")
        time.sleep(2.0)
        left = server.behind(client)


def measure_load(
    system: str, results: Results, sizes: Sizes, starts_at: str, *, use_wrk: bool
) -> None:
    for name, per_request, repeated in LOADS:
        progress(f"{system}: {name} for {sizes.seconds} s")
        with running(system, starts_at) as server:
            if use_wrk:
                sample = wrk_load(
                    server,
                    server.data_dir.parent,
                    per_request=per_request,
                    repeated=repeated,
                    seconds=sizes.seconds,
                )
            else:
                sample = python_load(
                    server, per_request=per_request, repeated=repeated, seconds=sizes.seconds
                )
            if server.process.poll() is not None:
                raise RuntimeError(f"{system} exited during the load")
        results.add(f"accepted requests/s, {name}", "req/s", system, sample["rps"])
        results.add(f"accepted alerts/s, {name}", "alerts/s", system, sample["rps"] * per_request)
        results.add(f"p50 latency, {name}", "ms", system, sample["p50_ms"])
        results.add(f"p99 latency, {name}", "ms", system, sample["p99_ms"])
        if sample["refused"]:
            progress(f"  {system} refused {sample['refused']:.0f} requests")


def measure_state(
    system: str, results: Results, sizes: Sizes, starts_at: str, *, use_wrk: bool
) -> None:
    send = wrk_send if use_wrk else send_alerts
    progress(f"{system}: start, idle memory")
    with running(system, starts_at) as server, httpx.Client(timeout=120.0) as client:
        pid = server.process.pid
        time.sleep(sizes.settle_s)
        results.add("memory idle (PSS)", "MiB", system, memory_mib(pid)["pss"])

        progress(f"{system}: {sizes.visible} distinct alerts, 10 per request, until all visible")
        began = time.perf_counter()
        refused = send(server, 0, sizes.visible, 10)
        sent_s = time.perf_counter() - began
        if refused:
            raise RuntimeError(f"{system} refused {refused} requests")
        wait_visible(server, client, sizes.visible, timeout_s=600)
        visible_s = time.perf_counter() - began
        progress(f"  sent in {sent_s:.2f} s, all visible after {visible_s:.2f} s")
        results.add(
            f"seconds until {sizes.visible} distinct alerts visible", "s", system, visible_s
        )
        results.add(f"seconds to send {sizes.visible} alerts", "s", system, sent_s)
        time.sleep(sizes.settle_s)
        results.add(
            f"memory at {sizes.visible} alerts (PSS)", "MiB", system, memory_mib(pid)["pss"]
        )

        progress(f"{system}: load to {sizes.active} open alerts, {LOAD_BATCH} per request")
        began = time.perf_counter()
        refused = send(server, sizes.visible, sizes.active - sizes.visible, LOAD_BATCH)
        if refused:
            raise RuntimeError(f"{system} refused {refused} requests")
        # Not a measure, only getting there: poll less, leave the cores to the work.
        wait_visible(server, client, sizes.active, timeout_s=3600, spacing=10.0)
        progress(f"  all {sizes.active} visible after {time.perf_counter() - began:.1f} s")
        listed = time.perf_counter()
        time.sleep(sizes.settle_s)
        memory = memory_mib(pid)
        results.add(f"memory at {sizes.active} alerts (PSS)", "MiB", system, memory["pss"])
        results.add(f"memory at {sizes.active} alerts (RSS)", "MiB", system, memory["rss"])

        # Idle means nothing left to do: what the burst queued for the followers (notifying,
        # the analytics fan-out) is finished first, and its time reported on its own.
        progress(f"{system}: until the background work of the {sizes.active} alerts is done")
        wait_caught_up(server, client, timeout_s=3600)
        # Looked at after the memory sample: a backlog done sooner reads as the settle time.
        done_s = time.perf_counter() - listed if server.backlog else 0.0
        progress(f"  done {done_s:.1f} s after all were listed")
        results.add(
            f"seconds from {sizes.active} listed until background work done", "s", system, done_s
        )
        time.sleep(sizes.settle_s)
        progress(f"{system}: idle CPU over {sizes.cpu_window_s:.0f} s")
        busy = cpu_busy(pid, sizes.cpu_window_s)
        results.add(f"idle CPU at {sizes.active} alerts", "% of a core", system, busy)
        results.add(
            "disk used per alert",
            "bytes",
            system,
            disk_bytes(server.data_dir) / sizes.active,
        )


# --- report ------------------------------------------------------------------------------------

DIFFERENCES = """\
What differs in the work:
- Helios answers 202 once the request is authenticated, checked (shape, and the normalizer it
  will run) and its envelope committed to the durable embedded queue (SQLite, synchronous=FULL);
  the decisions (dedup, scoring, grouping into incidents, notification rules) are made
  afterwards by the worker in the same process, appended to the event log, then projected into
  the read models the API lists. Accepted/s is the intake; "visible" includes all of that.
- Alertmanager answers 200 once the alerts are validated and put in its in-memory store:
  nothing is written to disk (only silences and the notification log are, periodically), so a
  restart forgets every alert until Prometheus resends it. Its disk per alert is ~0 by design.
- Repeated alerts: the same body again within HELIOS_API_DEDUP_WINDOW_S (10 s) is answered
  202 "duplicate" from the content-dedup store without being queued again; Alertmanager merges
  the repeat into the alert it holds.
- Both group by (alertname, service). Alertmanager would notify once per group, to a null
  receiver; Helios's notifier writes a notification per triggered alert (severity critical),
  logged only as there is no SMTP relay. Helios's scheduler ticks only the alerts with a
  deadline due (escalation, flap clearing), so an idle Helios has only its polling loops.
- Helios's followers (notifier, analytics fan-out, confirmations) catch up after the projector
  once a burst is listed; idle CPU is sampled after they are done, and how long they took is
  its own line (Alertmanager keeps no such backlog: 0).
- A ratio is n/a where Alertmanager's side is zero: its disk (alerts live in memory only) and,
  usually, its idle CPU (no timer of its fires within the window: 0 ns in schedstat)."""


def fmt_value(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"


def ratio_of(helios: float | None, alertmanager: float | None) -> str:
    if helios is None or alertmanager is None or alertmanager == 0:
        return "n/a"
    return f"{helios / alertmanager:.2f}"


def report(
    results: Results, rounds: int, client: str, sizes: Sizes, *, interrupted: bool = False
) -> None:
    stopped = " (stopped early: n says how many rounds measured both)" if interrupted else ""
    print(
        f"Helios (helios up) vs Alertmanager 0.25: medians of {rounds} interleaved round(s)"
        f"{stopped}; load: {client}; {sizes.seconds} s per load measure; big state "
        f"{sizes.active} alerts"
    )
    width = max(len(m) for m in results.samples) + 2
    print(
        f"{'measure':{width}s} {'unit':>11s} {'Helios':>12s} {'Alertmanager':>13s} "
        f"{'ratio':>7s} {'n':>2s}"
    )
    for measure in results.samples:
        helios = results.median(measure, "Helios")
        alertmanager = results.median(measure, "Alertmanager")
        print(
            f"{measure:{width}s} {results.units[measure]:>11s} {fmt_value(helios):>12s} "
            f"{fmt_value(alertmanager):>13s} {ratio_of(helios, alertmanager):>7s} "
            f"{results.rounds(measure):>2d}"
        )
    print("load average (1, 5, 15 min) at the start and end of each round:")
    for label, start, end in results.loads:
        print(
            f"  {label}: start {' '.join(f'{v:.2f}' for v in start)}"
            f"   end {' '.join(f'{v:.2f}' for v in end)}"
        )
    print(DIFFERENCES)
    for measure in results.samples:
        if measure.startswith("memory") and "(RSS)" in measure:
            continue  # PSS is the measure; RSS is shown for reference
        helios = results.median(measure, "Helios")
        alertmanager = results.median(measure, "Alertmanager")
        print(f"ratio {measure}: {ratio_of(helios, alertmanager)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; 1 with --quick)")
    parser.add_argument(
        "--duration", type=int, default=10, help="wrk seconds per load measure (default 10)"
    )
    parser.add_argument(
        "--active", type=int, default=100_000, help="open alerts of the big state (100000)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a smoke run (overrides the above)"
    )
    parser.add_argument(
        "--no-wrk", action="store_true", help="load from httpx clients in this process"
    )
    parser.add_argument(
        "--only",
        choices=("load", "state"),
        help="run one phase: the throughput rounds, or the big-state rounds",
    )
    add_helios_setting_option(parser)
    args = parser.parse_args(argv)
    take_helios_settings(parser, args.helios_setting)
    if args.quick:
        sizes = Sizes(seconds=1, active=600, visible=200, cpu_window_s=2.0, settle_s=1.0)
        args.rounds = args.rounds or 1
    else:
        args.rounds = args.rounds or 3
        if args.active <= VISIBLE:
            parser.error(f"--active must be above {VISIBLE}")
        sizes = Sizes(
            seconds=args.duration, active=args.active, visible=VISIBLE, cpu_window_s=CPU_WINDOW_S
        )
    if not shutil.which(ALERTMANAGER_BINARY):
        parser.error(f"{ALERTMANAGER_BINARY} not found: apt-get install prometheus-alertmanager")
    use_wrk = not args.no_wrk
    if use_wrk and not shutil.which("wrk"):
        parser.error("wrk not found: apt-get install wrk, or run with --no-wrk")
    client = (
        f"wrk (1 thread, {CONNECTIONS} connections)"
        if use_wrk
        else f"httpx in this process ({CONNECTIONS} connections: the client is the bottleneck)"
    )
    # Alerts start a minute before the run: in the past, as a firing alert's start is.
    starts_at = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    # SIGTERM unwinds like Ctrl-C: every server started is stopped and its directory removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = Results()
    # The throughput rounds first, then the big-state rounds (Helios takes minutes to decide
    # the big state): a run stopped early still has every round of the quick measures.
    phases: list[tuple[str, Callable[[str], None]]] = [
        ("load", lambda system: measure_load(system, results, sizes, starts_at, use_wrk=use_wrk)),
        (
            "state",
            lambda system: measure_state(system, results, sizes, starts_at, use_wrk=use_wrk),
        ),
    ]
    phases = [(phase, measure) for phase, measure in phases if args.only in (None, phase)]
    try:
        for phase, measure in phases:
            for number in range(1, args.rounds + 1):
                order = ["Alertmanager", "Helios"] if number % 2 else ["Helios", "Alertmanager"]
                start = os.getloadavg()
                progress(
                    f"{phase} round {number}/{args.rounds}: load average {start[0]:.2f}; "
                    f"order {', '.join(order)}"
                )
                for system in order:
                    measure(system)
                results.loads.append((f"{phase} round {number}", start, os.getloadavg()))
    except (KeyboardInterrupt, SystemExit):
        # Stopped early (Ctrl-C, SIGTERM): what was measured is still worth printing.
        results.keep_paired()
        if not results.samples:
            raise
        progress("interrupted: reporting the rounds that measured both")
        report(results, args.rounds, client, sizes, interrupted=True)
        return 130
    report(results, args.rounds, client, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
