"""PostgreSQL connections that speak the app's DB-API dialect.

The app's plain SQL (papers, authors, tags, aliases; not full-text search, which
lives in app/engine/) is written once, in the SQL both databases accept, with
SQLite's `?` and `:name` parameters. A `Connection` here wraps a psycopg 3
connection so that this SQL runs unchanged:

- parameters: `?` and `:name` become psycopg's `%s` and `%(name)s` (outside string
  literals and identifiers; a literal `%` is doubled), translated once per statement;
- transactions keep SQLite's meaning: `BEGIN IMMEDIATE` (a writer) takes one
  transaction-scoped advisory lock, so writers (ingest, retag, sync) still run one at a
  time and never interleave their batches, waiting for it as long as SQLite's busy
  timeout says (`PRAGMA busy_timeout = N` sets that wait here; no other PRAGMA exists)
  and then raising `LockNotAvailable` ("database is locked"); `BEGIN` on a read
  connection reads one snapshot (REPEATABLE READ), as a deferred SQLite transaction does;
- `INSERT OR IGNORE` is `INSERT ... ON CONFLICT DO NOTHING`; `group_concat(x)` and
  `group_concat(x, sep)` over a column are `string_agg(CAST(x AS text), sep)`;
- rows are read by position or by column name, as `sqlite3.Row` allows; dates and
  timestamps come back as ISO text, as SQLite stores them.

Anything else dialect-specific is written per dialect where it is used (see
`is_postgres`). Connections run in autocommit mode: callers open transactions
explicitly (app/db.py `transaction`), exactly as with SQLite.
"""

import re
from functools import lru_cache

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus

# Server-side backstops for readers (the request deadline of app/db.py ends a request
# sooner); writers (ingest, retag, sync) have none, as on SQLite.
READ_STATEMENT_TIMEOUT_MS = 30_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000

Error = psycopg.Error
DatabaseError = psycopg.DatabaseError
OperationalError = psycopg.OperationalError
LockNotAvailable = psycopg.errors.LockNotAvailable
QueryCanceled = psycopg.errors.QueryCanceled
WRITER_WAIT_MS = 10_000  # as SQLite's busy timeout (app/db.py BUSY_TIMEOUT_MS)
_BUSY_TIMEOUT = re.compile(r"^\s*PRAGMA\s+busy_timeout\s*=\s*(\d+)\s*;?\s*$", re.IGNORECASE)


def is_postgres(conn) -> bool:
    return isinstance(conn, Connection)


def conninfo(url: str) -> str:
    """A libpq URL from an SQLAlchemy one (postgresql+psycopg://... -> postgresql://...)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgres") else url


class _TextLoader(Loader):
    """Dates and timestamps as the text PostgreSQL sends (ISO), as SQLite returns them."""

    def load(self, data) -> str:
        return bytes(data).decode()


# --- rows ----------------------------------------------------------------------------------

class Row(tuple):
    """A result row readable by index and by column name, like sqlite3.Row."""

    __slots__ = ()
    _names: dict[str, int] = {}

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type:
    return type("Row", (Row,), {"__slots__": (), "_names": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor):
    if cursor.description is None:
        return tuple
    cls = _row_class(tuple(c.name for c in cursor.description))
    return lambda values: cls(values)


# --- statements ------------------------------------------------------------------------------

_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|::|\?|:[A-Za-z_]\w*|%""")
_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_GROUP_CONCAT = re.compile(r"\bgroup_concat\(\s*([\w.]+)\s*(?:,\s*('(?:[^']|'')*'))?\s*\)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


WRITER_LOCK = 0x7061706572  # the advisory lock a writer holds for its transaction ("paper")


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """The statement in psycopg's dialect (see the module docstring for what changes)."""
    sql = _GROUP_CONCAT.sub(lambda m: f"string_agg(CAST({m.group(1)} AS text), {m.group(2) or repr(',')})", sql)
    if _INSERT_OR_IGNORE.match(sql):
        sql = _INSERT_OR_IGNORE.sub("INSERT INTO", sql, count=1)
        returning = _RETURNING.search(sql)
        if returning:
            sql = f"{sql[:returning.start()]}ON CONFLICT DO NOTHING {sql[returning.start():]}"
        else:
            sql = f"{sql.rstrip().rstrip(';')} ON CONFLICT DO NOTHING"

    def placeholder(m: re.Match) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if token.startswith(":") and token != "::":
            return f"%({token[1:]})s"
        # A string literal or a quoted identifier (psycopg reads % even there), or a cast.
        return token.replace("%", "%%")
    return _TOKENS.sub(placeholder, sql)


class Cursor:
    """A psycopg cursor taking the app's SQL; `row_factory = None` gives plain tuples."""

    def __init__(self, conn: "Connection"):
        self._conn = conn
        self._cursor = conn.raw.cursor(row_factory=_row_factory)
        self.row_factory = conn.row_factory

    def execute(self, sql: str, params=None) -> "Cursor":
        if self.row_factory is None:
            self._cursor.row_factory = psycopg.rows.tuple_row
        self._conn._check_deadline()
        self._cursor.execute(translate(sql), _params(params))
        return self

    def executemany(self, sql: str, seq) -> "Cursor":
        self._conn._check_deadline()
        self._cursor.executemany(translate(sql), [_params(p) for p in seq])
        return self

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def fetchmany(self, size: int = 1) -> list:
        return self._cursor.fetchmany(size) if self._cursor.description is not None else []

    def __iter__(self):
        return iter(self._cursor) if self._cursor.description is not None else iter(())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self):
        return self._cursor.description

    def close(self) -> None:
        self._cursor.close()


def _params(params):
    if params is None:
        return ()  # not None: psycopg then reads the statement's placeholders (and its doubled %)
    if isinstance(params, dict):
        return params
    return list(params)


class Connection:
    """The app's view of one PostgreSQL session (autocommit; explicit BEGIN/COMMIT)."""

    def __init__(self, raw: psycopg.Connection, *, readonly: bool = False, past_deadline=None,
                 url: str = ""):
        self.raw = raw
        self.url = url  # what app/db.py connected to (the ingest's parsing process reads it too)
        self.readonly = readonly
        self.past_deadline = past_deadline  # app/db.py's request deadline (time_limit), for readers
        self.row_factory = Row
        self.writer_wait_ms = WRITER_WAIT_MS
        self.pool: "ReaderPool | None" = None  # the pool this connection goes back to
        # (title, abstract, authors) of papers a write batch replaced, whose terms the
        # search engine takes out of its statistics in one statement (app/engine/postgres.py).
        self.unindexed: list[tuple[str, str, str]] = []

    def __del__(self):
        # A request thread that ends (a worker pool shrinking, a test client's threads) drops
        # its thread-local connection: it goes back to the pool rather than leaking from it.
        pool, self.pool = self.pool, None
        if pool is not None:
            try:
                pool.give_back_raw(self.raw)
            except Exception:  # noqa: BLE001 - at interpreter exit the pool may be gone already
                pass

    def execute(self, sql: str, params=None) -> Cursor:
        verb = sql.strip().upper()
        if verb == "BEGIN IMMEDIATE":
            return self._begin_writer()
        if verb == "BEGIN" and self.readonly:
            return Cursor(self).execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        busy = _BUSY_TIMEOUT.match(sql)
        if busy:
            self.writer_wait_ms = int(busy.group(1))
            return Cursor(self)
        return Cursor(self).execute(sql, params)

    def _begin_writer(self) -> Cursor:
        """BEGIN, then the writers' lock, waited for `writer_wait_ms` (SQLite's busy timeout)."""
        self.raw.execute("BEGIN")
        try:
            self.raw.execute(f"SET LOCAL lock_timeout = {max(1, int(self.writer_wait_ms))}")
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
            self.raw.execute("SET LOCAL lock_timeout = 0")
        except LockNotAvailable as exc:
            self.raw.execute("ROLLBACK")
            raise LockNotAvailable("database is locked: another writer holds it") from exc
        except BaseException:
            if self.in_transaction:
                self.raw.execute("ROLLBACK")
            raise
        return Cursor(self)

    def executemany(self, sql: str, seq) -> Cursor:
        return Cursor(self).executemany(sql, seq)

    def cursor(self) -> Cursor:
        return Cursor(self)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def _check_deadline(self) -> None:
        """Stop a request past its time limit before its next statement (app/db.py time_limit)."""
        if self.past_deadline is not None and self.past_deadline():
            raise psycopg.errors.QueryCanceled("interrupted: the request's time limit has passed")


def configure(raw: psycopg.Connection, *, readonly: bool) -> None:
    raw.adapters.register_loader("date", _TextLoader)
    raw.adapters.register_loader("timestamp", _TextLoader)
    raw.adapters.register_loader("timestamptz", _TextLoader)
    if readonly:
        # A reader's transaction is one request's: one left open (a thread stopped mid-read)
        # would hold back the vacuum of the primary, or the replay of a standby.
        raw.execute(f"SET statement_timeout = {READ_STATEMENT_TIMEOUT_MS}")
        raw.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}")
        raw.execute("SET default_transaction_read_only = on")


def catalogue_version(conn: Connection) -> int:
    """Bumped by every write to the catalogue's tables, in the writer's transaction (migration 0004_postgres)."""
    return conn.raw.execute("SELECT version FROM catalogue_version WHERE id = 1").fetchone()[0]


def connect(url: str, *, readonly: bool = False, past_deadline=None) -> Connection:
    raw = psycopg.connect(conninfo(url), autocommit=True)
    configure(raw, readonly=readonly)
    return Connection(raw, readonly=readonly, past_deadline=past_deadline, url=url)


# --- the readers' pool ---------------------------------------------------------------------

class ReaderPool:
    """Read connections for one server process, bounded and health-checked by psycopg_pool.

    Request threads keep the connection they took (app/db.py `reader`), as they keep
    their SQLite connection; a broken one (server restart, replica failover) goes
    back to the pool, which discards it, and the thread takes a fresh one.
    """

    def __init__(self, url: str, max_size: int, past_deadline=None):
        from psycopg_pool import ConnectionPool

        self.url = url
        self.past_deadline = past_deadline
        self.pool = ConnectionPool(conninfo(url), min_size=1, max_size=max_size, open=True,
                                   kwargs={"autocommit": True},
                                   configure=lambda raw: configure(raw, readonly=True),
                                   check=ConnectionPool.check_connection, name="papers-readers")

    def take(self) -> Connection:
        conn = Connection(self.pool.getconn(), readonly=True, past_deadline=self.past_deadline, url=self.url)
        conn.pool = self
        return conn

    def give_back(self, conn: Connection) -> None:
        if conn.pool is self:
            conn.pool = None
            self.give_back_raw(conn.raw)

    def give_back_raw(self, raw: psycopg.Connection) -> None:
        try:
            self.pool.putconn(raw)
        except Exception:  # noqa: BLE001 - a connection the pool no longer knows: just close it
            raw.close()

    def close(self) -> None:
        self.pool.close()
