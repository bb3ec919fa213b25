"""The `papers` command: ingest, retag, db, serve."""

import argparse
import sys
from collections.abc import Sequence

from app import migrate
from app.db import connect, transaction
from app.ingest.load import BATCH_SIZE
from app.settings import SEED_FILE, get_settings


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
        conn = connect()
        problems = check_database(conn)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            return 1
        print("ok: integrity and full-text index verified", file=sys.stderr)
    elif args.action == "optimize":
        conn = connect()
        conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')")
        conn.execute("PRAGMA optimize")
        print("ok: full-text index optimized", file=sys.stderr)
    return 0


def check_database(conn) -> list[str]:
    """Problems found by SQLite's integrity check and FTS5's own consistency check."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    try:
        conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
    except Exception as exc:  # noqa: BLE001 - reported, not handled
        problems.append(f"full-text index: {exc}")
    return problems


def ensure_seeded(conn) -> None:
    """An empty catalogue gets the bundled seed papers, so `serve` always shows something."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM papers)").fetchone()[0]:
        return
    from app.ingest import ingest

    print(f"empty catalogue: loading the bundled seed papers from {SEED_FILE.name}", file=sys.stderr)
    ingest(conn, [str(SEED_FILE)], fmt="seed", source="seed", quiet=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    conn = _prepared_connection()
    if not args.no_seed:
        ensure_seeded(conn)
    conn.close()
    settings = get_settings()
    print(f"serving {settings.site_name} from {settings.database_path} on http://{args.host}:{args.port}",
          file=sys.stderr)
    uvicorn.run("app.main:app", host=args.host, port=args.port, log_level=args.log_level,
                workers=args.workers, proxy_headers=True)
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
