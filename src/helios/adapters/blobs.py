"""Stores for payloads too large to travel inside a queue message (S3 will be the third)."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from helios.ports.queue import BlobNotFound, QueueUnavailable

_T = TypeVar("_T")

# Keys become file names: refusing separators and dots-only names keeps them inside the root.
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


class MemoryBlobStore:
    """``BlobStore`` in a dict: tests, and a single process that never restarts."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def keys(self) -> frozenset[str]:
        """What is stored now (tests check that nothing is left behind)."""
        return frozenset(self._blobs)

    async def put(self, key: str, data: bytes) -> None:
        self._blobs[_checked(key)] = bytes(data)

    async def get(self, key: str) -> bytes:
        try:
            return self._blobs[key]
        except KeyError:
            raise BlobNotFound(key) from None

    async def delete(self, key: str) -> None:
        self._blobs.pop(key, None)


class FileBlobStore:
    """``BlobStore`` as one file per key in a directory, written atomically and fsynced."""

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root)

    def keys(self) -> frozenset[str]:
        """What is stored now."""
        if not self._root.exists():
            return frozenset()
        return frozenset(p.name for p in self._root.iterdir() if not p.name.startswith("."))

    async def put(self, key: str, data: bytes) -> None:
        await self._io(self._put, _checked(key), data)

    async def get(self, key: str) -> bytes:
        return await self._io(self._get, _checked(key))

    async def delete(self, key: str) -> None:
        await self._io(self._delete, _checked(key))

    async def _io(self, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return await asyncio.to_thread(fn, *args)
        except OSError as error:
            raise QueueUnavailable(f"blob store {self._root}: {error}") from error

    def _put(self, key: str, data: bytes) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        # Write aside, fsync, rename: a reader never sees half a payload, a crash leaves none.
        fd, tmp = tempfile.mkstemp(dir=self._root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, self._root / key)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _get(self, key: str) -> bytes:
        try:
            return (self._root / key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def _delete(self, key: str) -> None:
        (self._root / key).unlink(missing_ok=True)


def _checked(key: str) -> str:
    if not _SAFE_KEY.fullmatch(key):
        raise ValueError(f"unsafe blob key {key!r}")
    return key
