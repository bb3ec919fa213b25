"""The full-text engine seam: `get_engine()` is the SearchEngine the app uses.

The interface is app/engine/base.py. Two implementations: SQLite FTS5
(app/engine/fts5.py, the only module that writes FTS5 SQL) and PostgreSQL
(app/engine/postgres.py, the only module that writes tsquery SQL); the database
a connection is to chooses (without one, the database URL in the settings).
"""

from app.engine.base import ELLIPSIS, MARK_CLOSE, MARK_OPEN, SearchEngine
from app.pg import is_postgres
from app.settings import get_settings

__all__ = ["ELLIPSIS", "MARK_CLOSE", "MARK_OPEN", "SearchEngine", "get_engine"]

_engines: dict[bool, SearchEngine] = {}


def get_engine(conn=None) -> SearchEngine:
    postgres = is_postgres(conn) if conn is not None else get_settings().is_postgres
    engine = _engines.get(postgres)
    if engine is None:
        if postgres:
            from app.engine.postgres import PostgresEngine
            engine = PostgresEngine()
        else:
            from app.engine.fts5 import Fts5Engine
            engine = Fts5Engine()
        engine = _engines.setdefault(postgres, engine)
    return engine
