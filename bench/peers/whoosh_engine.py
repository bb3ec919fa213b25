"""Whoosh (`whoosh-reloaded`, pure Python) as a search engine on the same papers.

Run with the main virtualenv (Whoosh is already an app dependency):
    .venv/bin/python -m bench.peers.whoosh_engine FILE INDEX_DIR --limit 165830 --index-budget 600
Whoosh indexes a few thousand papers a second at best, so the index can be
bounded by count and by time; the JSON says how many papers it holds, and the
figures must be read at that size.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from whoosh import fields, index as whoosh_index, qparser, query as wq, sorting
from whoosh.analysis import StemmingAnalyzer

from bench.common import latency_summary, timed_repeats
from bench.data import read_jsonl
from bench.queries import MIX, PER_PAGE, Query


def build_schema() -> fields.Schema:
    return fields.Schema(
        title=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True, field_boost=2.0),
        abstract=fields.TEXT(analyzer=StemmingAnalyzer()),
        authors=fields.TEXT(stored=True),
        categories=fields.KEYWORD(stored=True, lowercase=False, scorable=False),
        published=fields.ID(stored=True, sortable=True),
    )


def index_papers(source: Path, index_dir: Path, limit: int, budget_s: float):
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    start = time.perf_counter()
    ix = whoosh_index.create_in(str(index_dir), build_schema())
    writer = ix.writer(limitmb=256)
    count, stopped_by = 0, "end of data"
    for obj in read_jsonl(source):
        if count >= limit:
            stopped_by = "count limit"
            break
        if time.perf_counter() - start > budget_s:
            stopped_by = "time budget"
            break
        writer.add_document(title=obj["title"], abstract=obj["abstract"],
                            authors=", ".join(obj.get("authors") or ()),
                            categories=" ".join(obj.get("categories") or ()), published=obj.get("published") or "")
        count += 1
    added = time.perf_counter()
    writer.commit()
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    return ix, {"papers": count, "stopped_by": stopped_by, "seconds": round(seconds, 2),
                "papers_per_s": round(count / seconds) if seconds else None, "commit_s": round(seconds - (added - start), 2),
                "index_bytes": size}


def compile_query(ix, query: Query):
    parser = qparser.MultifieldParser(["title", "abstract", "authors"], ix.schema, group=qparser.AndGroup)
    return parser.parse(query.q)


def top20(searcher, compiled, query: Query, *, groupedby=None):
    tag_filter = wq.And([wq.Term("categories", t) for t in query.tags]) if query.tags else None
    kwargs = {"filter": tag_filter, "groupedby": groupedby}
    if query.sort == "newest":
        kwargs.update(sortedby="published", reverse=True)
    return searcher.search_page(compiled, query.page, pagelen=PER_PAGE, **kwargs)


def faceted(searcher, compiled, query: Query):
    page = top20(searcher, compiled, query,
                 groupedby={"categories": sorting.FieldFacet("categories", allow_overlap=True)})
    docs = [hit.fields() for hit in page]
    return page.total, docs, page.results.groups("categories")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.whoosh_engine")
    parser.add_argument("source", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--limit", type=int, default=10**9, help="index at most this many papers")
    parser.add_argument("--index-budget", type=float, default=600.0, help="stop indexing after this many seconds")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--budget", type=float, default=10.0)
    args = parser.parse_args()

    ix, ingest = index_papers(args.source, args.index_dir, args.limit, args.index_budget)
    queries = {}
    with ix.searcher() as searcher:
        for query in MIX:
            compiled = compile_query(ix, query)
            queries[query.name] = {
                "matches": top20(searcher, compiled, query).total,
                "top20": latency_summary(timed_repeats(lambda c=compiled, q=query: top20(searcher, c, q),
                                                       reps=args.reps, budget_s=args.budget)),
                "faceted": latency_summary(timed_repeats(lambda c=compiled, q=query: faceted(searcher, c, q),
                                                         reps=args.reps, budget_s=args.budget)),
            }
    json.dump({"ingest": ingest, "queries": queries}, sys.stdout)


if __name__ == "__main__":
    main()
