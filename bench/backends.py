"""SQLite and PostgreSQL side by side, in process: search latency of the query mix with
the per-catalogue caches emptied before every call (so each search does the engine's
work: match, rank, facets, snippets), and the ingest rate of a slice of the corpus.

    python -m bench.backends search --url sqlite:///path/papers.db --reps 15
    python -m bench.backends search --url postgresql+psycopg://.../papers --reps 15
    python -m bench.backends ingest --url postgresql+psycopg://.../empty --limit 20000
    python -m bench.backends copy --from /path/papers.db --url postgresql+psycopg://.../empty

Prints one JSON document. The PostgreSQL database of `search` holds the same corpus
(`papers ingest`, or a copy of the SQLite catalogue's tables).
"""

import argparse
import gzip
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import CORPUS, latency_summary
from bench.queries import MIX


def search(url: str, reps: int) -> dict:
    os.environ["DATABASE_URL"] = url
    from app.db import reader
    from app.search import SearchParams, catalogue, run
    from app.settings import get_settings

    get_settings.cache_clear()
    started = time.perf_counter()
    cat = catalogue(reader())
    out: dict = {"url": url.split("@")[-1], "catalogue_build_s": round(time.perf_counter() - started, 2),
                 "papers": cat.total, "queries": {}}
    by_kind: dict[str, list[float]] = {}
    for query in MIX:
        params = SearchParams(q=query.q, tags=query.tags, sort=query.sort, page=query.page)
        samples = []
        for _ in range(reps):
            # Every per-catalogue cache but the words warmed at start (a server keeps those).
            for memo in (cat.matches, cat.predicates, cat.results, cat.leaves, cat.scores):
                memo.clear()
            start = time.perf_counter()
            result = run(params)
            samples.append((time.perf_counter() - start) * 1000)
        out["queries"][query.name] = {"matches": result.total, **latency_summary(samples)}
        by_kind.setdefault(query.kind, []).extend(samples)
    out["by_kind"] = {kind: latency_summary(samples) for kind, samples in by_kind.items()}
    return out


def ingest(url: str, limit: int, batch_size: int) -> dict:
    os.environ["DATABASE_URL"] = url
    from app import migrate
    from app.db import connect
    from app.ingest import ingest as load
    from app.settings import get_settings

    get_settings.cache_clear()
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / "slice.jsonl"
        with gzip.open(CORPUS, "rt", encoding="utf-8") as source:
            part.write_text("".join(itertools.islice(source, limit)), encoding="utf-8")
        migrate.upgrade(url)
        conn = connect(url if url.startswith("postgres") else url[len("sqlite:///"):])
        started = time.perf_counter()
        stats, status = load(conn, [str(part)], quiet=True, batch_size=batch_size)
        elapsed = time.perf_counter() - started
        conn.close()
    return {"url": url.split("@")[-1], "papers": stats.inserted, "status": status, "seconds": round(elapsed, 1),
            "papers_per_s": round(stats.inserted / elapsed, 1)}


TABLES = [("papers", "id, key, arxiv_id, title, abstract, authors, categories, published, year, added_at,"
                      " updated_at, source, url, title_norm, content_hash, classifications, upvotes, line_hash, revised"),
          ("authors", "id, name, slug"), ("paper_authors", "paper_id, position, author_id"),
          ("tags", "id, slug, name, kind, description, rule, evidence"), ("paper_tags", "tag_id, paper_id"),
          ("aliases", "key, paper_id")]


def copy(source: Path, url: str) -> dict:
    """A PostgreSQL catalogue from an SQLite one, table by table with COPY (faster than an
    ingest, for measuring searches on a large catalogue); statistics rebuilt at the end."""
    import sqlite3

    import psycopg

    from app import migrate
    from app.engine.postgres import PostgresEngine
    from app.pg import conninfo, connect

    migrate.upgrade(url)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    started = time.perf_counter()
    with psycopg.connect(conninfo(url)) as conn:
        conn.execute("SELECT set_config('papers.bulk_index', 'on', true)")
        for table, columns in TABLES:
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as pipe:
                for row in src.execute(f"SELECT {columns} FROM {table}"):
                    pipe.write_row(row)
        for table in ("papers", "authors", "tags"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    app_conn = connect(url)
    PostgresEngine().rebuild(app_conn)
    PostgresEngine().optimize(app_conn)
    app_conn.close()
    return {"papers": src.execute("SELECT count(*) FROM papers").fetchone()[0],
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backends", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("search")
    s.add_argument("--url", required=True)
    s.add_argument("--reps", type=int, default=15)
    i = sub.add_parser("ingest")
    i.add_argument("--url", required=True, help="an empty database")
    i.add_argument("--limit", type=int, default=20_000)
    i.add_argument("--batch-size", type=int, default=10_000)
    c = sub.add_parser("copy")
    c.add_argument("--from", dest="source", type=Path, required=True, help="an SQLite catalogue")
    c.add_argument("--url", required=True, help="an empty PostgreSQL database")
    args = parser.parse_args()
    if args.command == "search":
        result = search(args.url, args.reps)
    elif args.command == "copy":
        result = copy(args.source, args.url)
    else:
        result = ingest(args.url, args.limit, args.batch_size)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
