"""Waiting for the write lock: SQLite has one writer, and another ingest or sync may hold it.

An ingest's transactions begin here. A lock held by another writer is waited
for, with a line every few seconds saying so; if it is still held after the
run's patience, `WriterBusy` says what was committed, and the command ends with
exit status 3 and that one line. No batch is ever lost in silence: a batch
either commits, or the run stops before it and says where.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic

from app.db import BUSY_TIMEOUT_MS, sqlite3
from app.pg import LockNotAvailable

DEFAULT_WAIT = 600.0  # seconds: a large batch of another run takes a minute or two on a slow disk
FIRST_SAY = 1.0       # seconds before the first "waiting" line: another run's commit is usually quicker
SAY_EVERY = 10.0      # seconds between the next ones


class WriterBusy(Exception):
    """Another writer held the database for longer than this run would wait."""


def is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    # PostgreSQL: the writers' advisory lock not taken within the wait (app/pg.py).
    return (isinstance(exc, sqlite3.OperationalError) and "locked" in text) or isinstance(exc, LockNotAvailable)


class WriteLock:
    """Begins the ingest's write transactions, waiting up to `wait` seconds for another writer."""

    def __init__(self, conn, wait: float = DEFAULT_WAIT, say: Callable[[str], None] | None = None):
        self.conn, self.wait = conn, wait
        self.say = say or (lambda text: None)

    def _begin(self) -> None:
        started = monotonic()
        try:
            while True:
                waited = monotonic() - started
                left = self.wait - waited
                # SQLite's own busy handler does the waiting, one slice at a time between progress lines.
                slice_ = min(left, FIRST_SAY if waited < FIRST_SAY else SAY_EVERY)
                self.conn.execute(f"PRAGMA busy_timeout = {max(1, int(slice_ * 1000))}")
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except (sqlite3.OperationalError, LockNotAvailable) as exc:
                    if not is_locked(exc):
                        raise
                waited = monotonic() - started
                if waited >= self.wait:
                    raise WriterBusy(f"the database was locked by another writer for {waited:.0f} s "
                                     f"(waited up to {self.wait:.0f} s, --wait)") from None
                self.say(f"waiting for another writer to finish (database locked, {waited:.0f} s of "
                         f"{self.wait:.0f} s)")
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (waited for) ... COMMIT, rolled back on any error."""
        self._begin()
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
