"""Cost of the checks every request body goes through before decoding (``apps/http/bodies.py``).

    .venv/bin/python bench/bodies.py [--repeat 50]

The nesting check runs on every JSON body, so it must stay small next to decoding the body.
Prints, per body, the median time of the check and of ``orjson.loads`` on the same bytes.
Bodies: a captured Alertmanager webhook; a batch of 500 such alerts; and two hostile 512 KiB
bodies, one of only brackets nested 64 deep, one of only short strings full of brackets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from helios.apps.http.bodies import MAX_JSON_DEPTH, json_too_deep

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "payloads"
LIMIT = 512 * 1024


def bodies() -> dict[str, bytes]:
    webhook = (FIXTURES / "alertmanager-0.25-captured" / "webhook_v4_firing.json").read_bytes()
    document = json.loads(webhook)
    document["alerts"] = document["alerts"] * (500 // max(1, len(document["alerts"])))
    nested = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b","
    strings = b'"[{\\"]}",'
    return {
        "alertmanager webhook": webhook,
        "alertmanager batch of 500": json.dumps(document).encode(),
        "512 KiB of brackets, 64 deep": b"[" + nested * (LIMIT // len(nested)) + b"0]",
        "512 KiB of strings": b"[" + strings * (LIMIT // len(strings)) + b"0]",
    }


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    print(f"{'body':32} {'bytes':>8} {'depth check ms':>15} {'orjson.loads ms':>16}")
    for name, body in bodies().items():
        check = median_ms(lambda b=body: json_too_deep(b), args.repeat)
        decode = median_ms(lambda b=body: orjson.loads(b), args.repeat)
        print(f"{name:32} {len(body):>8} {check:>15.3f} {decode:>16.3f}")


if __name__ == "__main__":
    main()
