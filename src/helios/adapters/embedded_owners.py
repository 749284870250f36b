"""Which instances of an embedded queue file are alive: one locked file each.

An embedded queue instance creates ``<queue file>-owners/<id>.lock`` and holds an exclusive
``flock`` on it for as long as it lives; the operating system drops the lock when the process
ends, however it ends (``kill -9`` included). Each receipt the queue hands out records the id
of its instance, so a later instance can tell messages held by a dead one (lock file free, or
gone) from those a live one is working on, and deliver the former again at once instead of
after their visibility timeout.

Where ``flock`` does not exist (Windows), or the lock file cannot be created, an instance has
no id: its receipts carry none and simply time out, as they would without this module.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from types import ModuleType

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None

_SUFFIX = ".lock"


class OwnerLocks:
    """The lock files next to one queue file; this instance's own, once ``hold`` succeeded."""

    def __init__(self, queue_path: str | Path) -> None:
        self._dir = Path(f"{queue_path}-owners")
        self._fd: int | None = None
        self.owner: str | None = None

    def hold(self) -> str | None:
        """Create and lock this instance's file; return its id (None if impossible)."""
        if fcntl is None:
            return None
        owner = uuid.uuid4().hex
        # Locked under a name no one looks at, then renamed: another instance never finds
        # the file unlocked and takes this live instance for a dead one.
        temporary = self._dir / f".{owner}.new"
        try:
            self._dir.mkdir(exist_ok=True)
            fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(temporary, self._dir / f"{owner}{_SUFFIX}")
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return None
        self._fd, self.owner = fd, owner
        return owner

    def is_gone(self, owner: str) -> bool:
        """Tell whether the instance ``owner`` has ended (its lock file is free or missing).

        A dead instance's file is removed on the way; when in doubt, the answer is False.
        """
        if fcntl is None or owner == self.owner or not owner.isalnum():
            return False
        path = self._dir / f"{owner}{_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        else:
            with contextlib.suppress(OSError):
                path.unlink()
            return True
        finally:
            os.close(fd)

    def ended(self) -> list[str]:
        """The instances whose lock files are there but free: ended since the last look (the
        files are removed on the way, so each is named once). Cheap enough to ask often: one
        directory listing and a lock attempt per other live instance."""
        try:
            names = [path.name.removesuffix(_SUFFIX) for path in self._dir.glob(f"*{_SUFFIX}")]
        except OSError:
            return []
        return [owner for owner in names if self.is_gone(owner)]

    def sweep(self) -> None:
        """Remove the lock files of every instance that has ended."""
        with contextlib.suppress(OSError):
            for path in self._dir.glob(f"*{_SUFFIX}"):
                self.is_gone(path.name.removesuffix(_SUFFIX))

    def release(self) -> None:
        """End this instance: its file is removed, then its lock dropped."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            (self._dir / f"{self.owner}{_SUFFIX}").unlink()
        os.close(self._fd)
        self._fd = None
