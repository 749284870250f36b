"""Request and ingest ids: 32 hex digits, unique within a process and across a fork."""

from __future__ import annotations

import os
import re

from helios.apps.unique_ids import unique_id


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = [unique_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", one) for one in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_makes_ids_its_parent_does_not() -> None:
    before = unique_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        os.close(read)
        os.write(write, " ".join(unique_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [unique_id() for _ in range(3)]

    assert len(child) == 3
    assert {one[:16] for one in child}.isdisjoint({before[:16], parent[0][:16]})
    assert not set(child) & {before, *parent}
