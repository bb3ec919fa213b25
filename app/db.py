"""The store: database connections, one configured SQLite driver for migrations and raw SQL alike,
or PostgreSQL through app/pg.py when DATABASE_URL says so.

We use the `pysqlite3` build of SQLite (a recent release with FTS5) rather than
the system library: it ranks faster and lets readers scale across threads.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic

import pysqlite3.dbapi2 as sqlite3
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from app import pg
from app.settings import POSTGRES_SCHEMES, get_settings

BUSY_TIMEOUT_MS = 10_000
PROGRESS_STEPS = 50_000  # SQLite VM steps between deadline checks (a few milliseconds)

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


def past_deadline() -> int:
    deadline = _deadline.get()
    return 1 if deadline is not None and monotonic() > deadline else 0



def configure(conn: sqlite3.Connection) -> None:
    """Pragmas every connection needs: WAL for concurrent readers, FK enforcement."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(path=None, *, readonly: bool = False):
    """A raw connection in autocommit mode; callers open transactions explicitly.

    `path` is an SQLite file, or a database URL; None: the configured database
    (on PostgreSQL a read-only connection goes to the readers' URL)."""
    if path is None and get_settings().is_postgres:
        path = get_settings().read_url if readonly else get_settings().sqlalchemy_url
    if isinstance(path, str) and path.startswith(POSTGRES_SCHEMES):
        return pg.connect(path, readonly=readonly, past_deadline=past_deadline if readonly else None)
    if isinstance(path, str) and path.startswith("sqlite:///"):
        path = path[len("sqlite:///"):]
    path = path or get_settings().database_path
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        conn.set_progress_handler(past_deadline, PROGRESS_STEPS)
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


def is_postgres(conn) -> bool:
    return pg.is_postgres(conn)


def catalogue_version(conn) -> int:
    """PostgreSQL's catalogue version (bumped by every write, in the writer's transaction)."""
    return pg.catalogue_version(conn)


def values_in(conn, values, kind: str = "int") -> tuple[str, tuple]:
    """A subquery listing `values` (ints, or text with kind="text") and its one parameter,
    for `x IN <subquery>` with any number of values: a JSON array on SQLite, an array on
    PostgreSQL."""
    if pg.is_postgres(conn):
        return f"(SELECT unnest(CAST(? AS {'bigint' if kind == 'int' else 'text'}[])))", (list(values),)
    return "(SELECT value FROM json_each(?))", (json.dumps(list(values)),)


_local = threading.local()


_pools: dict[str, pg.ReaderPool] = {}
_pools_lock = threading.Lock()


def _pg_reader(url: str) -> pg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is not None and getattr(_local, "path", None) == url and not conn.raw.closed and not conn.raw.broken:
        if conn.in_transaction:
            conn.rollback()
        return conn
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            pool = _pools[url] = pg.ReaderPool(url, get_settings().database_pool_size, past_deadline)
    if conn is not None and isinstance(conn, pg.Connection):
        owner = _pools.get(getattr(_local, "path", None))
        if owner is not None:
            owner.give_back(conn)  # broken, or of another database: the pool discards or keeps it
    conn = pool.take()
    _local.conn, _local.path = conn, url
    return conn


def close_pools() -> None:
    """Close every PostgreSQL readers' pool (tests switching databases, process exit)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
    _local.__dict__.clear()


def reader():
    """A per-thread read connection for request handlers (SQLite connections are not shared)."""
    settings = get_settings()
    if settings.is_postgres:
        return _pg_reader(settings.read_url)
    path = str(settings.database_path)
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "path", None) != path or isinstance(conn, pg.Connection):
        conn = connect(path, readonly=True)
        _local.conn, _local.path = conn, path
    elif conn.in_transaction:  # a request stopped mid-read must not pin this thread to an old snapshot
        conn.rollback()
    return conn


def make_engine(url: str | None = None) -> Engine:
    url = url or get_settings().sqlalchemy_url
    if url.startswith(POSTGRES_SCHEMES):
        return create_engine(url, poolclass=NullPool)
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
