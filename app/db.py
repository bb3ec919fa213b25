"""The store: database connections, one configured SQLite driver for migrations and raw SQL alike.

The driver (the standard library's `sqlite3`, or a bundled newer SQLite where one is
installed) is chosen in `app.sqlite_driver`; every module imports `sqlite3` from here.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic

from fastapi import Depends
from sqlalchemy import Engine, create_engine, event

from app.settings import get_settings
from app.sqlite_driver import sqlite3

BUSY_TIMEOUT_MS = 10_000
PROGRESS_STEPS = 5_000  # SQLite VM steps between deadline checks (well under a millisecond)

# When the current request must stop using the database (monotonic seconds); None: no limit.
_deadline: ContextVar[float | None] = ContextVar("database_deadline", default=None)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Statements run by read connections inside this block are interrupted once `seconds` have passed
    (they raise OperationalError "interrupted"). Context variables follow requests into worker threads."""
    token = _deadline.set(monotonic() + seconds if seconds > 0 else None)
    try:
        yield
    finally:
        _deadline.reset(token)


def check_deadline() -> None:
    """Raise what an interrupted statement raises once the request's time is up: long Python
    work (assembling scores, highlighting) calls this between steps, since only SQLite's own
    statements are interrupted otherwise."""
    if _past_deadline():
        raise sqlite3.OperationalError("interrupted")


def _past_deadline() -> int:
    deadline = _deadline.get()
    return 1 if deadline is not None and monotonic() > deadline else 0


def configure(conn: sqlite3.Connection) -> None:
    """Pragmas every connection needs: WAL for concurrent readers, FK enforcement."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(path=None, *, readonly: bool = False) -> sqlite3.Connection:
    """A raw connection in autocommit mode; callers open transactions explicitly."""
    path = path or get_settings().database_path
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        conn.set_progress_handler(_past_deadline, PROGRESS_STEPS)
    else:
        path_parent = getattr(path, "parent", None)
        if path_parent is not None:
            path_parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        configure(conn)
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = True) -> Iterator[None]:
    """BEGIN ... COMMIT, rolled back on any error; IMMEDIATE takes the write lock up front."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # SQLite has already rolled back after some errors (disk full, I/O)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


_local = threading.local()


def reader() -> sqlite3.Connection:
    """A per-thread read connection for request handlers (SQLite connections are not shared)."""
    path = str(get_settings().database_path)
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "path", None) != path:
        conn = connect(path, readonly=True)
        _local.conn, _local.path = conn, path
    elif conn.in_transaction:  # a request stopped mid-read must not pin this thread to an old snapshot
        conn.rollback()
    return conn


def make_engine(url: str | None = None) -> Engine:
    url = url or get_settings().sqlalchemy_url
    engine = create_engine(url, module=sqlite3)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - SQLAlchemy callback
        configure(dbapi_conn)

    return engine


_engine: Engine | None = None


def get_engine() -> Engine:
    global _engine
    if _engine is None or str(_engine.url) != get_settings().sqlalchemy_url:
        _engine = make_engine()
    return _engine
