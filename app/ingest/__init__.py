"""`papers ingest`: read files in any supported format and load them idempotently.

Exit status: 0 when every record was loaded (some perhaps without a field that
failed validation: "kept, dropped ..."), 1 when some records were skipped
(every good record is still loaded and committed), 2 when an input could not be
read (on) at all (missing file, unknown format, corrupt compression, a
decompression bomb; what was read before is kept), 3 when the database cannot
be used (`papers ingest` says why in one line), another writer's lock past the
wait included.
"""

import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from app import tagging
from app.db import is_postgres
from app.engine import get_engine
from app.ingest.lines import CHUNK, catalogue_lookup, parse_records
from app.ingest.load import BATCH_SIZE, Loader, Stats
from app.ingest.lock import DEFAULT_WAIT, WriteLock, WriterBusy
from app.ingest.parsers import InputError, Parsed, detect_format, open_input
from app.ingest.records import PaperIn, RecordError
from app.ingest.worker import ParallelParse, worth_parallel

EXIT_OK, EXIT_SKIPPED, EXIT_UNREADABLE = 0, 1, 2
MAX_ERRORS_SHOWN = 100  # per file; the summary still counts them all
OPTIMIZE_AFTER = 10_000  # papers written by one run before the index is merged at the end


def default_source(path: str) -> str:
    if path == "-":
        return "stdin"
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".txt", ".xml", ".atom"):
        name = name.removesuffix(suffix)
    return name or "file"


def ingest(conn, paths: Sequence[str], *, fmt: str = "auto", source: str | None = None,
           quiet: bool = False, out: TextIO | None = None, batch_size: int = BATCH_SIZE,
           wait: float = DEFAULT_WAIT) -> tuple[Stats, int]:
    """Load every path; return the combined counts and the exit status.

    Raises WriterBusy when another writer holds the database for more than `wait` seconds
    (its message says what is committed); `papers ingest` turns it into exit status 3.
    """
    out = out or sys.stderr
    total = Stats()
    lock = WriteLock(conn, wait, say=lambda text: print(text, file=out, flush=True))
    try:
        with lock.transaction():
            tagging.sync_topics(conn)
            # Fewer, larger FTS5 segment merges while loading (about a quarter less work);
            # the default comes back, and a large load is merged into one segment, at the end.
            get_engine(conn).set_loading(conn, True)
    except WriterBusy as exc:
        raise WriterBusy(f"{exc}; nothing was loaded: run the same command again") from None
    try:
        status = _ingest_all(conn, paths, fmt, source, quiet, out, batch_size, total, lock)
    except WriterBusy:
        # Only a tuning setting is left to restore: not worth a second long wait.
        try:
            with WriteLock(conn, wait=1).transaction():
                get_engine(conn).set_loading(conn, False)
        except WriterBusy:
            pass
        raise
    with lock.transaction():
        get_engine(conn).set_loading(conn, False)
    if total.inserted + total.updated >= OPTIMIZE_AFTER:
        try:
            with lock.transaction():
                get_engine(conn).optimize(conn)
        except WriterBusy:  # everything is loaded; merging the index can wait for a quieter moment
            print("note: the full-text index was not merged (another writer held the database); "
                  "`papers db optimize` does it later", file=out)
    return total, status


def _ingest_all(conn, paths, fmt, source, quiet, out, batch_size, total: Stats, lock: WriteLock) -> int:
    status = EXIT_OK
    for path in paths:
        try:
            stats, failure = _ingest_one(conn, path, fmt, source or default_source(path), quiet, out,
                                         batch_size, lock)
        except InputError as exc:  # could not even start reading
            stats, failure = None, str(exc)
        if failure:
            print(f"error: {failure}", file=out)
            status = EXIT_UNREADABLE
        if stats is None:
            continue
        total.add(stats)
        if stats.skipped and status == EXIT_OK:
            status = EXIT_SKIPPED
    return status


def _ingest_one(conn, path: str, fmt: str, source: str, quiet: bool, out: TextIO,
                batch_size: int, lock: WriteLock) -> tuple[Stats, str | None]:
    """Load one input; returns its counts and, if reading broke off, why."""
    source_input = open_input(path)  # opened here too, so a bad path fails fast and clearly
    # Into an empty catalogue: the bulk path, and no line can be known yet.
    empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM papers)").fetchone()[0]
    database = None if empty else _database_file(conn)
    parallel = ParallelParse(path, fmt, database) if worth_parallel(path) else None
    position = (lambda: parallel.position) if parallel else source_input.position
    shown = {"skipped": 0, "kept": 0, "note": 0}

    def say(kind: str, line: int, text: str) -> None:
        shown[kind] += 1
        if shown[kind] <= MAX_ERRORS_SHOWN:
            message = f"{path}:{line}: {'' if kind == 'note' else kind + (': ' if kind == 'skipped' else ', ')}{text}"
            bar.write(message, file=out) if bar else print(message, file=out)
        elif shown[kind] == MAX_ERRORS_SHOWN + 1:
            print(f"{path}: more {'noted' if kind == 'note' else kind} records not shown", file=out)

    def report(line: int, error: RecordError) -> None:
        say("skipped", line, str(error))

    def report_drop(line: int, record: PaperIn) -> None:
        say("kept", line, ", ".join(record.dropped))

    show_bar = not quiet and out.isatty()
    bar = tqdm(total=source_input.size, file=out, unit="B", unit_scale=True, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {postfix} [{elapsed}<{remaining}]") if show_bar else None
    loader = Loader(conn, source, on_error=report, on_drop=report_drop,
                    on_note=lambda line, text: say("note", line, text), begin=lock.transaction)

    def progress(_records: int) -> None:
        if bar is not None:
            bar.update(position() - bar.n)
            rate = bar.format_dict["rate"]
            papers_rate = loader.stats.read / bar.format_dict["elapsed"] if bar.format_dict["elapsed"] else 0
            bar.set_postfix_str(f"{loader.stats.read:,} papers, {papers_rate:,.0f} papers/s", refresh=rate is None)

    failure: list[str] = []
    try:
        if parallel is not None:
            records = parallel
        else:
            chosen = detect_format(path, source_input.stream) if fmt == "auto" else fmt
            records = parse_records(source_input.stream, chosen, None if empty else catalogue_lookup(conn),
                                    chunk=min(CHUNK, batch_size))
        loader.load(_guarded(records, path, failure), batch_size=batch_size, progress=progress, bulk=empty)
    except WriterBusy as exc:
        done = (f"records up to line {loader.committed_line:,} are committed" if loader.committed_line
                else "none of its records were committed")
        raise WriterBusy(f"{path}: {exc}; {done}: run the same command again to load the rest") from None
    finally:
        if bar is not None:
            bar.close()
        if parallel is not None:
            parallel.close()
        source_input.close()
    print(f"{path}: {loader.stats.summary()}", file=out)
    return loader.stats, (failure[0] if failure else None)


def _database_file(conn) -> str | None:
    """The main database's file (or PostgreSQL URL), for the parsing process to read (None: in memory)."""
    if is_postgres(conn):
        return conn.url
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def _guarded(parsed: Iterator[Parsed], path: str, failure: list[str]) -> Iterator[Parsed]:
    """End the stream cleanly where the file breaks (corrupt gzip, I/O error, bad JSON document).

    Everything read before the break is still loaded; the reason is kept in `failure`.
    """
    try:
        yield from parsed
    except InputError as exc:
        failure.append(str(exc) if str(exc).startswith(path) else f"{path}: {exc}")
    except (OSError, EOFError, zlib.error) as exc:
        failure.append(f"{path}: cannot read further ({exc}); the records before were loaded")
    except Exception as exc:  # noqa: BLE001 - a reader's failure past one record: the file stops, said
        failure.append(f"{path}: cannot read further ({type(exc).__name__}: {exc}); the records before "
                       "were loaded")
