"""Parse in a second process while the main one writes to SQLite.

SQLite has one writer, and FTS indexing keeps it busy; parsing and validating
JSON is the other half of the work, so on a multi-core machine it runs beside
the writer instead of before it. Records cross over in pickled batches.
On a re-ingest the worker also looks up its lines' hashes (app/ingest/lines.py)
in a read-only connection, so unchanged lines are never parsed at all.
"""

import multiprocessing as mp
import os
import queue
from collections.abc import Iterator

from app.ingest.lines import catalogue_lookup, parse_records
from app.ingest.parsers import InputError, Parsed, detect_format, open_input
from app import pg
from app.orphans import end_with_parent
from app.settings import POSTGRES_SCHEMES
from app.sqlite_driver import sqlite3

BATCH = 1_000
QUEUE_DEPTH = 8  # batches in flight: bounds memory if the writer is slower
MIN_BYTES = 4 * 1024 * 1024  # below this, a second process costs more than it saves

_END = "end"
_ERROR = "error"


def _produce(path: str, fmt: str, out: mp.Queue, parent: int, database: str | None) -> None:
    # Killed writer: the queue's feeder thread would block on a pipe nobody reads, and the
    # process would wait for it at exit forever.
    end_with_parent(parent)
    def send(message) -> None:
        while True:
            try:
                out.put(message, timeout=1)
                return
            except queue.Full:
                if os.getppid() != parent:  # the writer died (killed): stop, don't linger
                    raise SystemExit(1) from None

    try:
        source = open_input(path)
        chosen = detect_format(path, source.stream) if fmt == "auto" else fmt
        lookup = None
        if database is not None:
            # Read-only: the writer's own commits show up as they happen, and whatever this
            # run writes first is read in full anyway (lines._Touched).
            if database.startswith(POSTGRES_SCHEMES):
                catalogue = pg.connect(database, readonly=True)
            else:
                catalogue = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
                catalogue.execute("PRAGMA busy_timeout = 10000")
            lookup = catalogue_lookup(catalogue)
        batch: list[Parsed] = []
        for item in parse_records(source.stream, chosen, lookup):
            batch.append(item)
            if len(batch) >= BATCH:
                send(("batch", batch, source.position()))
                batch = []
        send(("batch", batch, source.position()))
        send((_END, None, source.position()))
    except InputError as exc:
        send((_ERROR, str(exc), 0))
    except Exception as exc:  # noqa: BLE001 - corrupt compression, I/O errors: said, never a dead worker
        send((_ERROR, f"cannot read further ({type(exc).__name__}: {exc}); the records before were loaded", 0))


class ParallelParse:
    """Iterate parsed records produced by a worker process; `position` follows the file."""

    def __init__(self, path: str, fmt: str, database: str | None = None):
        """`database`: the catalogue's file, to skip the lines it already holds (None: parse all)."""
        ctx = mp.get_context("spawn")  # no fork: the writer's SQLite handles stay private
        self._queue: mp.Queue = ctx.Queue(QUEUE_DEPTH)
        self._process = ctx.Process(target=_produce, args=(path, fmt, self._queue, os.getpid(), database),
                                    daemon=True)
        self._process.start()
        self.position = 0

    def __iter__(self) -> Iterator[Parsed]:
        try:
            while True:
                try:
                    kind, payload, self.position = self._queue.get(timeout=1)
                except queue.Empty:
                    if not self._process.is_alive():
                        raise InputError("the parser process stopped unexpectedly") from None
                    continue
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise InputError(payload)
                yield from payload
        finally:
            self.close()

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        self._queue.close()


def worth_parallel(path: str) -> bool:
    try:
        return path != "-" and os.cpu_count() > 1 and os.path.getsize(path) >= MIN_BYTES
    except OSError:
        return False
