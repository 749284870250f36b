"""Reads of a SQLite read-model file never queue behind a write transaction of another
connection (the projector's, the dispatcher's): WAL lets them see the last commit at once."""

from __future__ import annotations

import threading
from pathlib import Path

from helios.apps.composition import open_read_models


def test_a_read_does_not_wait_for_another_connection_s_write_transaction(tmp_path: Path) -> None:
    """While one connection holds the write lock, another's query returns the last commit."""
    url = f"sqlite:{tmp_path / 'readmodels.db'}"
    writer, reader = open_read_models(url), open_read_models(url)
    try:
        with writer.transaction() as cursor:
            cursor.execute("INSERT INTO follower_positions (follower, position) VALUES ('a', 1)")
        answers: list[object] = []
        with writer.transaction() as cursor:
            cursor.execute("UPDATE follower_positions SET position = 2 WHERE follower = 'a'")
            read = threading.Thread(
                target=lambda: answers.append(
                    reader.query("SELECT position FROM follower_positions WHERE follower = 'a'")
                )
            )
            read.start()
            read.join(timeout=3)
            answered_during_write = not read.is_alive()
        read.join()
        assert answered_during_write
        assert answers == [[(1,)]]
    finally:
        writer.close()
        reader.close()
