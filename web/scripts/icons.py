"""Draw the app's PNG icons (the sun of icons/icon.svg) with the standard library alone.

python3 scripts/icons.py   # writes public/icons/icon-192.png and icon-512.png
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

BACKGROUND = (0x10, 0x15, 0x1C)
SUN = (0xF5, 0xA5, 0x24)
RAYS = [
    ((32, 8), (32, 16)),
    ((32, 48), (32, 56)),
    ((8, 32), (16, 32)),
    ((48, 32), (56, 32)),
    ((15, 15), (21, 21)),
    ((43, 43), (49, 49)),
    ((15, 49), (21, 43)),
    ((43, 21), (49, 15)),
]


def _distance_to_segment(p: tuple[float, float], a: tuple[int, int], b: tuple[int, int]) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _pixel(x: float, y: float) -> tuple[int, int, int, int]:
    """The colour at (x, y) of the 64-unit design (maskable: the background fills it)."""
    if math.hypot(x - 32, y - 32) <= 12 or any(
        _distance_to_segment((x, y), a, b) <= 2 for a, b in RAYS
    ):
        return (*SUN, 255)
    return (*BACKGROUND, 255)


def png(size: int) -> bytes:
    scale = 64 / size
    rows = b"".join(
        b"\x00" + b"".join(bytes(_pixel((i + 0.5) * scale, (j + 0.5) * scale)) for i in range(size))
        for j in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    folder = Path(__file__).resolve().parent.parent / "public" / "icons"
    for size in (192, 512):
        (folder / f"icon-{size}.png").write_bytes(png(size))
