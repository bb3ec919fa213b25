"""The store: database connections, one configured SQLite driver for migrations and raw SQL alike,
or PostgreSQL through app/pg.py when DATABASE_URL says so.

The driver (the standard library's `sqlite3`, or a bundled newer SQLite where one is
installed) is chosen in `app.sqlite_driver`; every module imports `sqlite3` from here.
"""

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic
from typing import TYPE_CHECKING

from app import pg
from app.settings import POSTGRES_SCHEMES, get_settings
from app.sqlite_driver import sqlite3

if TYPE_CHECKING:
    from sqlalchemy import Engine

BUSY_TIMEOUT_MS = 10_000
# Read connections map the file (up to this many bytes) instead of copying its pages into a
# per-connection cache: each request thread has its own connection, and a cold 2 MB cache
# made every search re-read the index's pages through system calls (p50 22.4 -> 17.6 ms over
# 173 never-seen searches at 165k papers). Writers keep ordinary reads.
READ_MMAP_BYTES = 1 << 32
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


def connect(path=None, *, readonly: bool = False):
    """A raw connection in autocommit mode; callers open transactions explicitly.

    `path` is an SQLite file, or a database URL; None: the configured database
    (on PostgreSQL a read-only connection goes to the readers' URL)."""
    if path is None and get_settings().is_postgres:
        path = get_settings().read_url if readonly else get_settings().sqlalchemy_url
    if isinstance(path, str) and path.startswith(POSTGRES_SCHEMES):
        return pg.connect(path, readonly=readonly, past_deadline=_past_deadline if readonly else None)
    if isinstance(path, str) and path.startswith("sqlite:///"):
        path = path[len("sqlite:///"):]
    path = path or get_settings().database_path
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        conn.execute(f"PRAGMA mmap_size = {READ_MMAP_BYTES}")
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


def ids_follow(conn, *tables: str) -> None:
    """After rows were written with explicit ids (a bulk load hands them out itself), the
    next id each table gives follows them: PostgreSQL's sequences do not look at the rows."""
    if pg.is_postgres(conn):
        for table in tables:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                         " HAVING max(id) IS NOT NULL")


_local = threading.local()

# How long a look at the database file's identity is trusted: a replaced or deleted file is
# noticed within this time, at a cost of one `stat` per interval and process (not per call).
FILE_CHECK_SECONDS = 0.05
MISSING = "The catalogue's database file is missing (moved or deleted); searches resume when it is back."
STALE_LOG = ("The catalogue's database file was replaced while the old file's write-ahead log ({wal}) "
             "still holds changes, which would be read as the new file's. Remove {wal} and {shm}: "
             "they belong to the old file.")


class Unavailable(sqlite3.OperationalError):
    """The database cannot be read as it stands; the message says why, for the reader of any page."""


class _FileWatch:
    """The identity (device, inode) of the file at the database path, looked at once per interval,
    and the write-ahead log seen beside each identity (to notice a log left over by a replaced file)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.path: str | None = None
        self.identity: tuple[int, int] | None = None
        self.checked = float("-inf")
        self.logs: dict[tuple[int, int], tuple[int, int]] = {}  # file identity -> its -wal's identity

    def current(self, path: str) -> tuple[int, int] | None:
        now = monotonic()
        if path == self.path and now - self.checked < FILE_CHECK_SECONDS:
            return self.identity
        identity = file_identity(path)
        with self.lock:
            self.path, self.identity, self.checked = path, identity, now
        return identity

    def remember_log(self, path: str, identity: tuple[int, int]) -> None:
        log = file_identity(f"{path}-wal")
        if log is not None:
            with self.lock:
                self.logs = {identity: log}  # only the file being served matters

    def refuse_stale_log(self, path: str, identity: tuple[int, int]) -> None:
        """A log whose identity was seen beside another file is that file's: SQLite would read the old
        pages from it as if they belonged to this one (measured: the replaced catalogue is served)."""
        with self.lock:
            earlier = [log for file, log in self.logs.items() if file != identity]
        if not earlier:
            return
        try:
            st = os.stat(f"{path}-wal")
        except OSError:
            return
        if st.st_size > 0 and (st.st_dev, st.st_ino) in earlier:
            raise Unavailable(STALE_LOG.format(wal=f"{os.path.basename(path)}-wal",
                                               shm=f"{os.path.basename(path)}-shm"))


def file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


_watch = _FileWatch()


_pools: dict[str, pg.ReaderPool] = {}
_pools_lock = threading.Lock()


def _pg_reader(url: str) -> pg.Connection:
    """This thread's PostgreSQL reader, taken from the process's pool (one per URL)."""
    conn = getattr(_local, "conn", None)
    if isinstance(conn, pg.Connection) and getattr(_local, "path", None) == url \
            and not conn.raw.closed and not conn.raw.broken:
        if conn.in_transaction:  # a request stopped mid-read must not pin this thread to an old snapshot
            conn.rollback()
        return conn
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            pool = _pools[url] = pg.ReaderPool(url, get_settings().database_pool_size, _past_deadline)
    _drop_reader()
    conn = pool.take()
    _local.conn, _local.path, _local.identity = conn, url, None
    return conn


def close_pools() -> None:
    """Close every PostgreSQL readers' pool (tests switching databases, process exit)."""
    _drop_reader()
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def reader():
    """A per-thread read connection for request handlers (SQLite connections are not shared).

    It follows the file at the database path: a file replaced by another (`mv new.db papers.db`,
    a new inode) is opened afresh, and a deleted one raises `Unavailable`, instead of serving
    the old file from its still-open descriptor forever. On PostgreSQL it comes from a pool
    of connections to the readers' URL (a hot standby, or the primary)."""
    settings = get_settings()
    if settings.is_postgres:
        return _pg_reader(settings.read_url)
    path = str(settings.database_path)
    identity = _watch.current(path)
    conn = getattr(_local, "conn", None)
    if identity is None:
        _drop_reader()
        raise Unavailable(MISSING)
    if conn is None or getattr(_local, "path", None) != path or getattr(_local, "identity", None) != identity:
        _drop_reader()
        _watch.refuse_stale_log(path, identity)
        try:
            conn = connect(path, readonly=True)
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opens (or creates) the log
        except sqlite3.OperationalError as exc:
            if file_identity(path) is None:
                raise Unavailable(MISSING) from exc
            raise
        _watch.remember_log(path, identity)
        _local.conn, _local.path, _local.identity = conn, path, identity
    elif conn.in_transaction:  # a request stopped mid-read must not pin this thread to an old snapshot
        conn.rollback()
    return conn


def identity(conn) -> tuple[int, int] | None:
    """The (device, inode) of the file this thread's reader reads, when `conn` is that reader."""
    return getattr(_local, "identity", None) if getattr(_local, "conn", None) is conn else None


def _drop_reader() -> None:
    conn = getattr(_local, "conn", None)
    _local.conn = _local.path = _local.identity = None
    if isinstance(conn, pg.Connection):
        if conn.pool is not None:
            conn.pool.give_back(conn)  # broken, or of another database: the pool discards or keeps it
        else:
            conn.close()
    elif conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def make_engine(url: str | None = None) -> "Engine":
    # Imported here: only the migrations use an engine, and every process imports this module.
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    url = url or get_settings().sqlalchemy_url
    if url.startswith(POSTGRES_SCHEMES):
        return create_engine(url, poolclass=NullPool)
    engine = create_engine(url, module=sqlite3)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001 - SQLAlchemy callback
        configure(dbapi_conn)

    return engine


_engine: "Engine | None" = None


def get_engine() -> "Engine":
    global _engine
    if _engine is None or str(_engine.url) != get_settings().sqlalchemy_url:
        _engine = make_engine()
    return _engine
