"""The raw floor: what SQLite itself costs, with no application around it.

Ingest floor: stream the file, parse each line with orjson, one executemany into
a bare table, one FTS5 `rebuild` with the app's tokenizer, one transaction.
Query floor: a plain `MATCH ... ORDER BY bm25 LIMIT 20`, and the same with the
work a faceted page needs (hit rows, total count, category counts).

Run as `python -m bench.floor ingest FILE DB` or `python -m bench.floor query DB`;
prints one JSON document.
"""

import argparse
import gzip
import io
import json
import sys
import time
from pathlib import Path

import orjson

from app.sqlite_driver import sqlite3
from bench.common import FTS_TOKENIZER, latency_summary, timed_repeats
from bench.queries import MIX, PER_PAGE, Query

BATCH = 5_000
# Title weighs more than abstract, authors least: the same shape as the app's ranking.
BM25 = "bm25(papers_fts, 10.0, 1.0, 0.5)"

SCHEMA = f"""
CREATE TABLE papers (
    id INTEGER PRIMARY KEY, arxiv_id TEXT, title TEXT NOT NULL, abstract TEXT NOT NULL,
    authors TEXT NOT NULL, categories TEXT NOT NULL, published TEXT
);
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors, content='papers', content_rowid='id', tokenize='{FTS_TOKENIZER}'
);
"""


def ingest(source: Path, db: Path) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    insert = "INSERT INTO papers (arxiv_id, title, abstract, authors, categories, published) VALUES (?,?,?,?,?,?)"
    count = 0
    opener = gzip.open if source.suffix == ".gz" else open
    conn.execute("BEGIN")
    with opener(source, "rb") as raw:
        batch = []
        for line in io.BufferedReader(raw, 1 << 20):
            obj = orjson.loads(line)
            batch.append((obj.get("id"), obj["title"], obj["abstract"], ", ".join(obj.get("authors") or ()),
                          orjson.dumps(obj.get("categories") or []).decode(), obj.get("published")))
            if len(batch) >= BATCH:
                conn.executemany(insert, batch)
                count += len(batch)
                batch.clear()
        conn.executemany(insert, batch)
        count += len(batch)
    loaded = time.perf_counter()
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    end = time.perf_counter()
    return {"papers": count, "seconds": round(end - start, 2), "papers_per_s": round(count / (end - start)),
            "load_s": round(loaded - start, 2), "fts_rebuild_s": round(end - loaded, 2),
            "db_bytes": db.stat().st_size}


def _filters(query: Query) -> tuple[str, list]:
    sql, args = "", []
    for tag in query.tags:
        sql += " AND EXISTS (SELECT 1 FROM json_each(p.categories) WHERE value = ?)"
        args.append(tag)
    return sql, args


def top20(conn, query: Query) -> list:
    """Plain ranked top page: the least any FTS5 search can do."""
    where, args = _filters(query)
    order = "p.published DESC" if query.sort == "newest" else BM25
    return conn.execute(
        f"SELECT p.id FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid"
        f" WHERE papers_fts MATCH ?{where} ORDER BY {order} LIMIT {PER_PAGE} OFFSET {query.offset}",
        [query.fts5_match(), *args]).fetchall()


def faceted(conn, query: Query) -> tuple[list, int, list]:
    """What a faceted results page needs: hit rows with snippets, the total, category counts."""
    where, args = _filters(query)
    order = "p.published DESC" if query.sort == "newest" else BM25
    match = query.fts5_match()
    hits = conn.execute(
        f"SELECT p.id, p.title, snippet(papers_fts, 1, '<mark>', '</mark>', '…', 30), p.authors, p.published"
        f" FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid"
        f" WHERE papers_fts MATCH ?{where} ORDER BY {order} LIMIT {PER_PAGE} OFFSET {query.offset}",
        [match, *args]).fetchall()
    total = conn.execute(
        f"SELECT count(*) FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid WHERE papers_fts MATCH ?{where}",
        [match, *args]).fetchone()[0]
    facets = conn.execute(
        f"SELECT j.value, count(*) FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid,"
        f" json_each(p.categories) j WHERE papers_fts MATCH ?{where} GROUP BY j.value ORDER BY 2 DESC LIMIT 31",
        [match, *args]).fetchall()
    return hits, total, facets


def query_latencies(db: Path, reps: int, budget_s: float) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out = {}
    for query in MIX:
        total = conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?",
                             [query.fts5_match()]).fetchone()[0]
        out[query.name] = {
            "matches": total,
            "top20": latency_summary(timed_repeats(lambda q=query: top20(conn, q), reps=reps, budget_s=budget_s)),
            "faceted": latency_summary(timed_repeats(lambda q=query: faceted(conn, q), reps=reps,
                                                     budget_s=budget_s)),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_ingest = sub.add_parser("ingest")
    p_ingest.add_argument("source", type=Path)
    p_ingest.add_argument("db", type=Path)
    p_query = sub.add_parser("query")
    p_query.add_argument("db", type=Path)
    p_query.add_argument("--reps", type=int, default=30)
    p_query.add_argument("--budget", type=float, default=10.0)
    args = parser.parse_args()
    if args.cmd == "ingest":
        result = ingest(args.source, args.db)
    else:
        result = query_latencies(args.db, args.reps, args.budget)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
