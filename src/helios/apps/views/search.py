"""Text search in the views: ``LIKE`` patterns, the same on SQLite and PostgreSQL.

Such a condition cannot use an index (the text may be anywhere in the column): the views put
it after the indexed ones, so it is checked on the rows those let through.
"""

from __future__ import annotations

ESCAPE = "ESCAPE '\\'"
"""The clause that follows ``LIKE ?`` for a pattern made by ``anywhere``."""


def anywhere(text: str) -> str:
    """``text`` as a LIKE pattern that matches it anywhere (wildcards escaped with ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
