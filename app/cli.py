"""The `papers` command: ingest, sync, retag, db, serve."""

import argparse
import errno
import gc
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from app import migrate, pg, sqlite_driver
from app.db import connect, is_postgres, sqlite3, transaction
from app.engine import get_engine
from app.ingest.load import BATCH_SIZE
from app.ingest.lock import DEFAULT_WAIT
from app.ingest.parsers import FORMATS
from app.settings import SEED_FILE, get_settings


EXIT_DATABASE = 3  # the database cannot be used: missing, read-only, disk full, damaged
SYNC_FAILED = 2  # the source could not be read (after retries); what was committed stays
WAIT_HELP = (f"how long to wait for another writer's lock (an ingest, a sync) before giving up with exit 3 "
             f"(default {DEFAULT_WAIT:.0f})")
EXIT_ADDRESS = 4  # the server cannot listen where it was asked to
# Default worker processes: one per core, at most this many (each holds its own in-memory catalogue,
# a few hundred MB on the 165k corpus: bench/README.md).
MAX_DEFAULT_WORKERS = 4
WORKER_PATIENCE = 60  # seconds a worker may take to answer its supervisor (import, start)
# Connection limits of `papers serve` (README: "Running behind a proxy"). A request must arrive
# whole within HEADER_TIMEOUT s; an idle keep-alive connection is closed after KEEP_ALIVE s; a worker
# with LIMIT_CONCURRENCY connections and requests in progress answers new requests 503 at once
# (requests beyond its 40 threads would only wait in a queue); a request head (line and headers)
# over MAX_HEAD_BYTES is answered 400.
HEADER_TIMEOUT = 10.0
KEEP_ALIVE = 5
LIMIT_CONCURRENCY = 200
MAX_HEAD_BYTES = 16 * 1024


INGEST_EXIT_STATUS = """exit status:
  0  every record was loaded (records kept with a dropped field included, and reported)
  1  some records were skipped (each reported as FILE:LINE); all others were loaded and committed
  2  an input could not be read (on): missing, corrupt compression, a decompression bomb, an unreadable
     JSON document; records read before the break are kept, other files are still loaded
  3  the database cannot be used: missing, read-only, damaged, disk full, or locked by another writer
     past --wait; one error line says what is committed and what to do"""


class DatabaseProblem(Exception):
    """The database cannot be used for this command; the message says why, for the user."""


def _existing_database():
    if get_settings().is_postgres:
        return get_settings().sqlalchemy_url  # the server says whether it exists
    path = get_settings().database_path
    if not path.exists():
        raise DatabaseProblem(f"no database at {path}: `papers ingest FILE` or `papers db upgrade` creates one")
    return path


def _prepared_connection():
    """Migrate to head, then connect: every command works on a current schema."""
    migrate.upgrade()
    return connect()


def cmd_ingest(args: argparse.Namespace) -> int:
    from app.ingest import ingest
    from app.ingest.lock import WriterBusy

    conn = _prepared_connection()
    try:
        stats, status = ingest(conn, args.paths, fmt=args.format, source=args.source, quiet=args.quiet,
                               batch_size=args.batch_size, wait=args.wait)
    except WriterBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    if len(args.paths) > 1:
        print(f"total: {stats.summary()}", file=sys.stderr)
    return status


def cmd_sync(args: argparse.Namespace) -> int:
    from app.ingest.lock import WriterBusy
    from app.sync.http import SyncError

    conn = _prepared_connection()
    try:
        if args.source == "arxiv":
            from app.sync.arxiv import harvest
            stats, requests = harvest(conn, args.set, args.from_date, quiet=args.quiet, wait=args.wait)
            where = f"arxiv:{args.set}"
        else:
            from app.sync.daily import harvest
            stats, requests = harvest(conn, on=args.date, since=args.since, quiet=args.quiet, wait=args.wait)
            where = "daily"
    except SyncError as exc:
        print(f"error: {exc}; pages committed before are kept, run the same command to resume",
              file=sys.stderr)
        return SYNC_FAILED
    except WriterBusy as exc:
        print(f"error: {exc}; pages committed before are kept, run the same command to resume",
              file=sys.stderr)
        return EXIT_DATABASE
    print(f"{where}: {stats.summary()}; {requests:,} requests", file=sys.stderr)
    return 1 if stats.skipped else 0


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_retag(args: argparse.Namespace) -> int:
    from app import tagging

    conn = _prepared_connection()
    if args.dry_run:
        before = tagging.topic_members(conn)
        conn.execute("BEGIN")
        try:  # the same work as a real retag, then thrown away
            tagging.sync_topics(conn)
            tagging.retag(conn, None)
            after = tagging.topic_members(conn)
            report = retag_diff(conn, before, after, examples=args.examples)
        finally:
            conn.execute("ROLLBACK")
        print(report)
        return 0
    with transaction(conn):
        tagging.sync_topics(conn)
        links = tagging.retag(conn, None)
    print(f"retagged: {links:,} topic links", file=sys.stderr)
    return 0


def retag_diff(conn, before: dict[str, set[int]], after: dict[str, set[int]], examples: int = 5) -> str:
    """Per topic: papers now and before, those gained and lost, with a few titles of each."""
    lines = []
    for slug in sorted(set(before) | set(after)):
        old, new = before.get(slug, set()), after.get(slug, set())
        gained, lost = sorted(new - old), sorted(old - new)
        state = "new topic" if slug not in before else "removed" if slug not in after else ""
        lines.append(f"{slug}: {len(old):,} -> {len(new):,} papers, +{len(gained):,} -{len(lost):,}"
                     + (f" ({state})" if state else ""))
        for sign, ids in (("+", gained), ("-", lost)):
            step = max(1, len(ids) // examples) if examples else 0
            for pid in ids[::step][:examples] if step else []:
                row = conn.execute("SELECT key, title FROM papers WHERE id = ?", (pid,)).fetchone()
                lines.append(f"  {sign} {row[0]}  {' '.join(row[1].split())[:100]}")
    unchanged = sum(1 for slug in after if before.get(slug) == after[slug])
    lines.append(f"{unchanged} of {len(after)} topics unchanged; nothing was written (dry run)")
    return "\n".join(lines)


def cmd_db(args: argparse.Namespace) -> int:
    if args.action == "upgrade":
        migrate.upgrade(revision=args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(revision=args.revision or "-1")
    elif args.action == "check":
        conn = connect(_existing_database())
        try:
            problems = check_database(conn)
        finally:
            conn.close()
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            return 1
        print("ok: integrity and full-text index verified", file=sys.stderr)
    elif args.action == "optimize":
        conn = connect(_existing_database())
        try:
            get_engine(conn).optimize(conn)
            if not is_postgres(conn):
                conn.execute("PRAGMA optimize")
        finally:
            conn.close()
        print("ok: full-text index optimized", file=sys.stderr)
    return 0


def check_database(conn) -> list[str]:
    """Problems found by SQLite's integrity check and FTS5's own consistency check (on
    PostgreSQL, which checks its own pages, the engine's check of its statistics)."""
    if is_postgres(conn):
        return get_engine(conn).check(conn)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    except sqlite3.DatabaseError as exc:
        return [f"the file cannot be read as a database: {exc}"]
    return problems + get_engine(conn).check(conn)


def ensure_seeded(conn) -> None:
    """An empty catalogue gets the bundled seed papers, so `serve` always shows something."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM papers)").fetchone()[0]:
        return
    from app.ingest import ingest

    print(f"empty catalogue: loading the bundled seed papers from {SEED_FILE.name}", file=sys.stderr)
    ingest(conn, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)


def startup_problem(path: Path) -> str | None:
    """Why the database at `path` cannot be served (SQLite's quick check), or None; a missing file is
    fine, `serve` creates it. Seconds on a large catalogue: `--skip-check` leaves it out."""
    if not path.exists():
        return None
    try:
        conn = connect(path, readonly=True)
    except sqlite3.DatabaseError as exc:
        return explain(exc, path)
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        return explain(exc, path)
    finally:
        conn.close()
    if found == ["ok"]:
        return None
    detail = "; ".join(" ".join(line.split()) for line in found)[:300]
    return (f"{path} is damaged (SQLite's quick check: {detail}); restore it from a backup, or move it aside "
            "and ingest again")


def explain(exc: BaseException, path: Path) -> str | None:
    """A database or file-system error in words, with what to do; None when it is none of those."""
    exc = getattr(exc, "orig", None) or exc  # SQLAlchemy (migrations) wraps the driver's error
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "database or disk is full" in text:
        return (f"the disk holding {path} is full: free some space, then run the same command again "
                "(batches committed before are kept)")
    if code == errno.EROFS or "readonly" in text or "read-only" in text:
        return (f"{path} is read-only (file permissions, an immutable file or a read-only mount): "
                "it can still be served, but nothing can be written to it")
    if "not a database" in text or "malformed" in text or "could not decode" in text:
        return (f"{path} is damaged or not a database ({_short(exc)}); restore it from a backup, or move it "
                "aside and ingest again")
    if "database is locked" in text:
        return (f"{path} stayed locked by another writer (another ingest or sync) past the wait: run the same "
                "command again when it is done (batches committed before are kept)")
    if "unable to open database file" in text:
        return f"cannot open {path}: its folder is missing, or not readable and writable by this user"
    if isinstance(exc, OSError) and code in (errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST):
        return f"cannot use {exc.filename or path.parent}: {exc.strerror}"
    return None


def _short(exc: BaseException) -> str:
    """SQLite's own words, without the damaged bytes it sometimes quotes."""
    text = str(exc).split(" with text ", 1)[0]
    return "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in text)[:120]


def address_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, in one line that says what to do; None if it can.
    Checked before migrating and seeding, so a busy port is said at once and plainly."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        return f"cannot listen on {host!r}: {exc.strerror}; give an address of this machine with --host"
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name != "nt":  # as uvicorn does: a port whose last connections are closing counts as free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10048:
                return (f"port {port} on {host} is already in use: pick another with --port N "
                        "(or PORT=N; `make serve PORT=N`)")
            if exc.errno == errno.EACCES:
                return f"port {port} needs privileges here: pick one above 1023 with --port N"
            return f"cannot listen on {host}:{port}: {exc.strerror}; check --host and --port"
    return None


def default_workers() -> int:
    """One per core this process may use (a container's CPU set, where the system tells), capped."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, MAX_DEFAULT_WORKERS))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    problem = address_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_ADDRESS
    if not args.skip_check and not get_settings().is_postgres:
        problem = startup_problem(get_settings().database_path)
        if problem:
            raise DatabaseProblem(problem)
    conn = _prepared_connection()
    if not args.no_seed:
        ensure_seeded(conn)
    conn.close()
    os.environ["HEADER_TIMEOUT"] = str(args.header_timeout)  # read by each worker's protocol
    get_settings.cache_clear()
    settings = get_settings()
    store = "PostgreSQL" if settings.is_postgres else sqlite_driver.describe()
    print(f"serving {settings.site_name} from {settings.database_label} on http://{args.host}:{args.port} "
          f"({args.workers} worker{'s' if args.workers > 1 else ''}, {store})", file=sys.stderr)
    # A worker that does not answer its supervisor within uvicorn's default 5 s is killed and started
    # again; importing the app on a busy machine can take longer than that, and then none ever serves.
    uvicorn.run("app.cli:worker_app", factory=True, host=args.host, port=args.port, log_level=args.log_level,
                workers=args.workers, timeout_worker_healthcheck=WORKER_PATIENCE,
                proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
                http="app.web.protocol:DeadlineH11Protocol", h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                timeout_keep_alive=args.keep_alive, limit_concurrency=args.limit_concurrency or None)
    return 0


def worker_app():
    """The app one server process serves (uvicorn calls this in each worker). Every process keeps its
    own in-memory catalogue and spelling vocabulary, a second or two to build on a large corpus:
    built while the worker starts, not during the first visitor's search."""
    from app.main import create_app

    threading.Thread(target=_warm_search, name="warm-search", daemon=True).start()
    return create_app()


def _warm_search() -> None:
    from app import related, search

    try:
        search.warm(background=True)   # the catalogue and spelling now, frequent words' scores in a thread
        related.warm()
    except Exception as exc:  # noqa: BLE001 - only an optimisation; the first search will retry
        print(f"warning: search warm-up failed: {exc}", file=sys.stderr)
    # What the worker built to start (app, templates, vocabularies) lives as long as it does: kept
    # out of the full garbage collections, which otherwise walk it all in the middle of a request.
    gc.freeze()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="papers", description="A searchable catalogue of research papers.")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="load papers from files (seed page, JSON Lines, JSON, OAI-PMH XML,"
                                           " Atom; .gz ok)", epilog=INGEST_EXIT_STATUS,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="input files, or - for standard input")
    ingest.add_argument("--format", choices=["auto", *FORMATS], default="auto")
    ingest.add_argument("--source", help="source name stored with new papers (default: the file name)")
    ingest.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    ingest.add_argument("--batch-size", type=_positive, default=BATCH_SIZE, metavar="N",
                        help=f"records per transaction (default {BATCH_SIZE:,})")
    ingest.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS", help=WAIT_HELP)
    ingest.set_defaults(func=cmd_ingest)

    sync = sub.add_parser("sync", help="fetch what is new from a live source (arXiv OAI-PMH, daily papers)")
    sources = sync.add_subparsers(dest="source", required=True)
    arxiv = sources.add_parser("arxiv", help="harvest an arXiv set over OAI-PMH, resuming where the last run ended")
    arxiv.add_argument("--set", default="cs", help="OAI set, e.g. cs, math, physics:hep-th (default cs)")
    arxiv.add_argument("--from", dest="from_date", type=lambda t: _date(t).isoformat(), metavar="DATE",
                       help="harvest records changed since DATE (default: since the last run)")
    arxiv.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    arxiv.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS", help=WAIT_HELP)
    daily = sources.add_parser("daily", help="fetch the daily papers feed (default: since the last day fetched)")
    when = daily.add_mutually_exclusive_group()
    when.add_argument("--date", type=_date, metavar="D", help="only this day")
    when.add_argument("--since", type=_date, metavar="D", help="every day from D to today")
    daily.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    daily.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS", help=WAIT_HELP)
    sync.set_defaults(func=cmd_sync)

    retag = sub.add_parser("retag", help="recompute topic tags from app/topics.toml")
    retag.add_argument("--dry-run", action="store_true",
                       help="print the papers each topic would gain and lose, and write nothing")
    retag.add_argument("--examples", type=int, default=5, metavar="N",
                       help="titles shown per topic for papers gained and lost (dry run; default 5)")
    retag.set_defaults(func=cmd_retag)

    db = sub.add_parser("db", help="schema migrations and maintenance")
    db.add_argument("action", choices=["upgrade", "downgrade", "check", "optimize"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / one step down)")
    db.set_defaults(func=cmd_db)

    serve = sub.add_parser("serve", help="migrate, load the seed data if empty, and serve the web app")
    serve.add_argument("--host", default=os.environ.get("HOST") or "127.0.0.1",
                       help="address to listen on (default: $HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, default=os.environ.get("PORT") or 8000,
                       help="port to listen on (default: $PORT, else 8000)")
    serve.add_argument("--workers", type=_positive, default=default_workers(), metavar="N",
                       help=f"server processes (default: one per core, at most {MAX_DEFAULT_WORKERS}; "
                            f"here {default_workers()})")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--header-timeout", type=_seconds, default=HEADER_TIMEOUT, metavar="S",
                       help="seconds a client has to send a whole request once it connects or starts one; "
                            f"then 408 and closed (default {HEADER_TIMEOUT:g}; 0: no limit)")
    serve.add_argument("--keep-alive", type=int, default=KEEP_ALIVE, metavar="S",
                       help=f"seconds an idle keep-alive connection stays open (default {KEEP_ALIVE}); behind a "
                            "proxy, more than the proxy's idle timeout for its upstream connections")
    serve.add_argument("--limit-concurrency", type=int, default=LIMIT_CONCURRENCY, metavar="N",
                       help="open connections and requests in progress per worker before new requests are "
                            f"answered 503 (default {LIMIT_CONCURRENCY}; 0: no limit)")
    serve.add_argument("--forwarded-allow-ips", default=os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
                       metavar="IPS", help="proxies (comma-separated addresses or networks, * for any) whose "
                                           "X-Forwarded-For/-Proto are trusted (default: $FORWARDED_ALLOW_IPS, "
                                           "else 127.0.0.1)")
    serve.add_argument("--no-seed", action="store_true", help="do not load the seed data into an empty database")
    serve.add_argument("--skip-check", action="store_true",
                       help="skip SQLite's quick check of the database at start (seconds on a large catalogue)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sqlite_driver.require()
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted: committed batches are kept; run the same command again to finish",
              file=sys.stderr)
        return 130
    except (DatabaseProblem, sqlite_driver.SQLiteUnfit) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except Exception as exc:  # noqa: BLE001 - database and disk failures get words, anything else its traceback
        if get_settings().is_postgres:
            return _postgres_failure(exc)
        message = explain(exc, get_settings().database_path)
        if message is None or not isinstance(getattr(exc, "orig", None) or exc, (sqlite3.Error, OSError)):
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_DATABASE


def _postgres_failure(exc: Exception) -> int:
    """A PostgreSQL server that cannot be reached or refuses: its own words, exit 3."""
    original = getattr(exc, "orig", None) or exc
    if not isinstance(original, pg.OperationalError):
        raise exc
    print(f"error: cannot use the database at {get_settings().database_label}: "
          f"{' '.join(str(original).split())[:300]}", file=sys.stderr)
    return EXIT_DATABASE


if __name__ == "__main__":
    sys.exit(main())
