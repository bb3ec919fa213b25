"""The `papers` command: ingest, retag, db, serve."""

import argparse
import errno
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from app import migrate, pg
from app.db import connect, is_postgres, sqlite3, transaction
from app.engine import get_engine
from app.ingest.load import BATCH_SIZE
from app.settings import SEED_FILE, get_settings


EXIT_DATABASE = 3  # the database cannot be used: missing, read-only, disk full, damaged


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

    conn = _prepared_connection()
    stats, status = ingest(conn, args.paths, fmt=args.format, source=args.source, quiet=args.quiet,
                           batch_size=args.batch_size)
    if len(args.paths) > 1:
        print(f"total: {stats.summary()}", file=sys.stderr)
    return status


def cmd_retag(args: argparse.Namespace) -> int:
    from app import tagging

    conn = _prepared_connection()
    with transaction(conn):
        tagging.sync_topics(conn)
        links = tagging.retag(conn, None)
    print(f"retagged: {links:,} topic links", file=sys.stderr)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    if args.action == "upgrade":
        migrate.upgrade(revision=args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(revision=args.revision or "-1")
    elif args.action == "check":
        conn = connect(_existing_database())
        problems = check_database(conn)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            return 1
        print("ok: integrity and full-text index verified", file=sys.stderr)
    elif args.action == "optimize":
        conn = connect(_existing_database())
        get_engine(conn).optimize(conn)
        if not is_postgres(conn):
            conn.execute("PRAGMA optimize")
        print("ok: full-text index optimized", file=sys.stderr)
    return 0


def check_database(conn) -> list[str]:
    """Problems found by SQLite's integrity check and FTS5's own consistency check
    (on PostgreSQL, which checks its own pages, the engine's check of its statistics)."""
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
    if "unable to open database file" in text:
        return f"cannot open {path}: its folder is missing, or not readable and writable by this user"
    if isinstance(exc, OSError) and code in (errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST):
        return f"cannot use {exc.filename or path.parent}: {exc.strerror}"
    return None


def _short(exc: BaseException) -> str:
    """SQLite's own words, without the damaged bytes it sometimes quotes."""
    text = str(exc).split(" with text ", 1)[0]
    return "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in text)[:120]


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if not args.skip_check and not get_settings().is_postgres:
        problem = startup_problem(get_settings().database_path)
        if problem:
            raise DatabaseProblem(problem)
    conn = _prepared_connection()
    if not args.no_seed:
        ensure_seeded(conn)
    conn.close()
    settings = get_settings()
    print(f"serving {settings.site_name} from {settings.database_label} on http://{args.host}:{args.port}",
          file=sys.stderr)
    if args.workers == 1:
        # The in-memory catalogue and spelling vocabulary take a second or two to build on a
        # large corpus: build them while uvicorn starts, not during the first visitor's search.
        threading.Thread(target=_warm_search, name="warm-search", daemon=True).start()
    uvicorn.run("app.main:app", host=args.host, port=args.port, log_level=args.log_level,
                workers=args.workers, proxy_headers=True)
    return 0


def _warm_search() -> None:
    from app import search

    try:
        search.warm()
    except Exception as exc:  # noqa: BLE001 - only an optimisation; the first search will retry
        print(f"warning: search warm-up failed: {exc}", file=sys.stderr)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="papers", description="A searchable catalogue of research papers.")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="load papers from files (seed page, JSON Lines, JSON; .gz ok)")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="input files, or - for standard input")
    ingest.add_argument("--format", choices=["auto", "seed", "jsonl", "json"], default="auto")
    ingest.add_argument("--source", help="source name stored with new papers (default: the file name)")
    ingest.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    ingest.add_argument("--batch-size", type=_positive, default=BATCH_SIZE, metavar="N",
                        help=f"records per transaction (default {BATCH_SIZE:,})")
    ingest.set_defaults(func=cmd_ingest)

    retag = sub.add_parser("retag", help="recompute topic tags from app/topics.toml")
    retag.set_defaults(func=cmd_retag)

    db = sub.add_parser("db", help="schema migrations and maintenance")
    db.add_argument("action", choices=["upgrade", "downgrade", "check", "optimize"])
    db.add_argument("revision", nargs="?", help="target revision (default: head / one step down)")
    db.set_defaults(func=cmd_db)

    serve = sub.add_parser("serve", help="migrate, load the seed data if empty, and serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-seed", action="store_true", help="do not load the seed data into an empty database")
    serve.add_argument("--skip-check", action="store_true",
                       help="skip SQLite's quick check of the database at start (seconds on a large catalogue)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted: committed batches are kept; run the same command again to finish",
              file=sys.stderr)
        return 130
    except DatabaseProblem as exc:
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
