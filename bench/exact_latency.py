"""Latency of exact relevance ranking at 165k: never-seen queries, broad words, cached views,
in process and over HTTP, beside the plain FTS5 floor measured in the same run.

    PAPERS_CORPUS_DB=<catalogue> .venv/bin/python -m bench.exact_latency [--queries 100] [--http]
        [--url postgresql+psycopg://.../papers]

- *never seen*: title-drawn queries of 1-4 words (as the exactness test draws them) with at
  most 20,000 matches, each asked once with every per-query cache emptied (match sets,
  scores, leaf contributions, spelling, finished results); only the start-up warm-up of
  the most frequent words is kept, as a server has it.
- *broad*: the broadest single words, first time asked after the warm-up; and once with no
  warm-up at all (the cost the warm-up moves to start-up).
- *cached*: the same views asked again.
- `--url`: search that database instead (PostgreSQL holding the same corpus); the queries
  are still drawn from, and the FTS5 floor still measured on, the SQLite catalogue, so two
  runs (without and with `--url`) ask the same queries and each has its own floor to
  compare against on a shared machine.
- *FTS5 floor*: plain FTS5 (`bench.relevance.fts5_top`: words ANDed, `ORDER BY bm25() LIMIT
  10`), the cheapest ranked answer SQLite gives, on the same queries in the same run: the
  machine is shared, so ratios to it are the comparable figures.
"""

import argparse
import json
import os
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import PROJECT_ROOT
from bench.relevance import catalogue as corpus_catalogue
from bench.relevance import fts5_top

BROAD = ["model", "learning", "language", "data", "models", "network"]


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def title_queries(db: Path, count: int, seed: int = 11) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rng = random.Random(seed)
    top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
    out = []
    while len(out) < count:
        title = conn.execute("SELECT title FROM papers WHERE id >= ? ORDER BY id LIMIT 1",
                             (rng.randint(1, top),)).fetchone()[0]
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", title) if w.upper() not in ("AND", "OR", "NOT")]
        if words:
            n = rng.randint(1, min(4, len(words)))
            first = rng.randint(0, len(words) - n)
            out.append(" ".join(words[first:first + n]))
    return out


def forget_per_query(cat, conn=None) -> None:
    from app.engine import get_engine
    from app.search import spelling
    for memo in (cat.matches, cat.predicates, cat.results, cat.leaves, cat.scores):
        memo.clear()
    spelling._cache.clear()
    if conn is not None:  # PostgreSQL: the document counts of phrases and prefixes it counted
        getattr(get_engine(conn), "_doc_freqs", {}).clear()


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def line(name, values):
    if not values:
        return f"| {name} | 0 | - | - |"
    return f"| {name} | {len(values)} | {pct(values, 50):.1f} | {pct(values, 99):.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--no-warm", action="store_true",
                        help="skip the start-up warm-up and the broad words after it (it takes ~19 min on PostgreSQL)")
    parser.add_argument("--url", help="search this database (e.g. PostgreSQL with the same corpus) instead")
    args = parser.parse_args()
    db = corpus_catalogue()
    os.environ["DATABASE_URL"] = args.url or f"sqlite:///{db}"
    from app import search
    from app.db import reader
    from app.search import SearchParams, ranking
    from app.search.catalogue import catalogue
    from app.search.query import synonym_phrases
    from app.settings import get_settings

    get_settings.cache_clear()
    conn = reader()
    build_ms, cat = timed(lambda: catalogue(conn, None if args.url else get_settings().database_path))
    search.run(SearchParams(q="warm"))  # the spelling vocabulary
    words = search.spelling.frequent_words(conn, cat, ranking.WARM_WORDS)
    # Broad words with no warm-up at all: what the warm-up moves to start-up.
    from app.search.cost import Refused

    def answered(q):
        """(ms, result), or (ms, None) when the query is refused as too broad to rank in time."""
        started = time.perf_counter()
        try:
            result = search.run(SearchParams(q=q))
        except Refused:
            result = None
        return (time.perf_counter() - started) * 1000, result

    cold_broad = []
    for q in BROAD:
        forget_per_query(cat, conn)
        ms, result = answered(q)
        cold_broad.append((q, result.total if result else None, ms))
    cat.warm_leaves.clear()
    warm_ms, _ = (0, None) if args.no_warm else timed(lambda: ranking.warm(conn, cat, words, synonym_phrases()))
    warm_mb = sum(i.nbytes + s.nbytes for i, s in cat.warm_leaves.values()) / 1e6
    print(f"searching {(args.url or 'sqlite').split('@')[-1]}; catalogue build {build_ms:.0f} ms; "
          f"warm-up of {len(cat.warm_leaves)} words {warm_ms:.0f} ms, "
          f"{warm_mb:.0f} MB; load average {os.getloadavg()}")

    fts = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    candidates = title_queries(db, args.queries * 2)
    never, floor, cached, totals, refused = [], [], [], [], []
    for q in candidates:
        forget_per_query(cat, conn)
        ms, result = answered(q)
        if result is None:
            refused.append(q)
            continue
        if result.total > 20_000 or not result.total:
            continue
        never.append(ms)
        totals.append(result.total)
        cached.append(timed(lambda: search.run(SearchParams(q=q)))[0])
        floor.append(timed(lambda: fts5_top(fts, q))[0])
        if len(never) >= args.queries:
            break
    broad, broad_floor, broad_cached = [], [], []
    for q in [] if args.no_warm else BROAD:
        for _ in range(5):
            forget_per_query(cat, conn)
            ms, result = answered(q)
            if result is None:
                refused.append(q)
                continue
            broad.append(ms)
            broad_cached.append(timed(lambda: search.run(SearchParams(q=q)))[0])
            broad_floor.append(timed(lambda: fts5_top(fts, q))[0])
    print(f"never-seen queries: {len(never)}, matches median {statistics.median(totals):.0f}, max {max(totals)}")
    print("| in process | runs | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(line("never-seen, <= 20k matches", never))
    print(line("  FTS5 floor, same queries", floor))
    print(line("  cached (same view again)", cached))
    print(line("broad single words, first time after warm-up", broad))
    print(line("  FTS5 floor, same words", broad_floor))
    print(line("  cached", broad_cached))
    print("broad words with no warm-up: " + ", ".join(
        f"{q} ({n:,}) {ms:.0f} ms" if n is not None else f"{q} refused as too broad ({ms:.0f} ms)"
        for q, n, ms in cold_broad))
    if refused:
        print(f"refused as too broad to rank in time (not timed above): {len(refused)}: {', '.join(refused[:12])}")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.http:
        http(args.url or f"sqlite:///{db}", candidates[: args.queries * 2])


def http(url: str, queries: list[str]) -> None:
    """The same never-seen queries through `papers serve` (one worker), after its warm-up."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=url)
    papers = Path(sys.executable).with_name("papers")
    server = subprocess.Popen([str(papers), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1", "--log-level", "warning"], env=env, cwd=PROJECT_ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(float(os.environ.get("WARM_WAIT", "120")))  # the start-up warm-up runs meanwhile
        first, specific, again, broad = [], [], [], []
        for q in queries:
            url = f"{base}/api/papers?q={urllib.parse.quote(q)}"
            ms, body = timed(lambda: urllib.request.urlopen(url, timeout=30).read())
            total = json.loads(body)["total"]
            if not total:
                continue
            first.append(ms)
            if total <= 20_000:
                specific.append(ms)
            again.append(timed(lambda: urllib.request.urlopen(url, timeout=30).read())[0])
        for q in BROAD:
            broad.append(timed(lambda: urllib.request.urlopen(f"{base}/api/papers?q={q}", timeout=30).read())[0])
        print("| over HTTP (/api/papers) | runs | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|")
        print(line("never-seen (any number of matches)", first))
        print(line("  of which <= 20k matches", specific))
        print(line("  cached", again))
        print(line("broad single words, first time", broad))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    import urllib.parse  # noqa: F401 - used by http()
    main()
