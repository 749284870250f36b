"""Ids unique to one request or one accepted envelope, made without a system call each.

32 lowercase hex digits, as ``uuid.uuid4().hex`` gives: a random prefix of 16 digits drawn
once per process (again in a forked child) and a counter of 16. Two processes share a prefix
with a chance of one in 2**64; one process would need 2**64 ids to wrap its counter. They are
names, not secrets: nothing may rely on them being unguessable.

``uuid.uuid4().hex`` costs about 4 µs (a ``getrandom`` call and a ``UUID`` object); every
accepted request makes two (its request id and its envelope's ingest id).
"""

from __future__ import annotations

import itertools
import os


class _Ids:
    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_IDS = _Ids()
os.register_at_fork(after_in_child=_IDS.restart)


def unique_id() -> str:
    """A new id, unique among every id this function returns in any process."""
    return _IDS.next()
