"""The full-text engine seam: `get_engine()` is the one SearchEngine the app uses.

The interface is app/engine/base.py; the SQLite FTS5 implementation is
app/engine/fts5.py, the only module that writes FTS5 SQL.
"""

from functools import cache

from app.engine.base import ELLIPSIS, MARK_CLOSE, MARK_OPEN, SearchEngine
from app.engine.fts5 import Fts5Engine

__all__ = ["ELLIPSIS", "MARK_CLOSE", "MARK_OPEN", "SearchEngine", "get_engine"]


@cache
def get_engine() -> SearchEngine:
    return Fts5Engine()  # the one engine today; a setting will choose once there are two
