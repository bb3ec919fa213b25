"""tantivy (a Lucene-class engine in Rust) on the same papers: index time and raw query latency.

Run with the peers virtualenv:
    bench/.venv-peers/bin/python -m bench.peers.tantivy_engine FILE INDEX_DIR --reps 30
prints one JSON document. `top20` is the ranked page alone; `faceted` adds what a
results page needs: the total count, the 20 stored documents, and a terms
aggregation over categories (tantivy's equivalent of our category facet).
"""

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import tantivy

from bench.common import latency_summary, timed_repeats
from bench.data import read_jsonl
from bench.queries import MIX, PER_PAGE, Query


def build_schema():
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("title", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("abstract", stored=True, tokenizer_name="en_stem")
    builder.add_text_field("authors", stored=True)
    builder.add_text_field("categories", stored=True, tokenizer_name="raw", fast=True)
    builder.add_date_field("published", stored=True, fast=True, indexed=True)
    return builder.build()


def index_papers(source: Path, index_dir: Path) -> tuple[tantivy.Index, dict]:
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    schema = build_schema()
    start = time.perf_counter()
    index = tantivy.Index(schema, path=str(index_dir))
    writer = index.writer(heap_size=512_000_000, num_threads=2)
    count = 0
    for obj in read_jsonl(source):
        doc = tantivy.Document()
        doc.add_text("title", obj["title"])
        doc.add_text("abstract", obj["abstract"])
        doc.add_text("authors", ", ".join(obj.get("authors") or ()))
        for category in obj.get("categories") or ():
            doc.add_text("categories", category)
        if obj.get("published"):
            doc.add_date("published", datetime.fromisoformat(obj["published"]).replace(tzinfo=timezone.utc))
        writer.add_document(doc)
        count += 1
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
    return index, {"papers": count, "seconds": round(seconds, 2), "papers_per_s": round(count / seconds),
                   "index_bytes": size}


def compile_query(index: tantivy.Index, schema, query: Query):
    parsed = index.parse_query(query.q, ["title", "abstract", "authors"], field_boosts={"title": 2.0},
                               conjunction_by_default=True)
    if not query.tags:
        return parsed
    clauses = [(tantivy.Occur.Must, parsed)]
    clauses += [(tantivy.Occur.Must, tantivy.Query.term_query(schema, "categories", t)) for t in query.tags]
    return tantivy.Query.boolean_query(clauses)


def top20(searcher, compiled, query: Query, *, count: bool = False):
    if query.sort == "newest":
        return searcher.search(compiled, limit=PER_PAGE, offset=query.offset, count=count,
                               order_by_field="published", order=tantivy.Order.Desc)
    return searcher.search(compiled, limit=PER_PAGE, offset=query.offset, count=count)


def faceted(searcher, compiled, query: Query):
    result = top20(searcher, compiled, query, count=True)
    docs = [searcher.doc(address) for _, address in result.hits]
    facets = searcher.aggregate(compiled, {"categories": {"terms": {"field": "categories", "size": 31}}})
    return result.count, docs, facets


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.tantivy_engine")
    parser.add_argument("source", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--budget", type=float, default=10.0)
    args = parser.parse_args()

    index, ingest = index_papers(args.source, args.index_dir)
    schema = index.schema
    searcher = index.searcher()
    queries = {}
    for query in MIX:
        compiled = compile_query(index, schema, query)
        matches = searcher.search(compiled, limit=1, count=True).count
        queries[query.name] = {
            "matches": matches,
            "top20": latency_summary(timed_repeats(lambda c=compiled, q=query: top20(searcher, c, q),
                                                   reps=args.reps, budget_s=args.budget)),
            "faceted": latency_summary(timed_repeats(lambda c=compiled, q=query: faceted(searcher, c, q),
                                                     reps=args.reps, budget_s=args.budget)),
        }
    json.dump({"version": tantivy.__version__ if hasattr(tantivy, "__version__") else "0.27.0",
               "ingest": ingest, "queries": queries}, sys.stdout)


if __name__ == "__main__":
    main()
