"""The Lucene-class BM25 reference of the relevance set: tantivy over the catalogue's own papers.

Run with the peers virtualenv (bench/relevance.py does it):
    bench/.venv-peers/bin/python -m bench.peers.tantivy_relevance CATALOGUE_DB INDEX_DIR < queries.json
reads a JSON list of {"id", "q"} and prints {"id": [arXiv ids of the top results, best first]}.

The reference is deliberately plain: English stemming on title and abstract, the title
boosted, OR of the terms (tantivy's default), every match scored by BM25. The index is
built from the same SQLite catalogue the engine searches, so both see the same papers,
and rebuilt only when that file changes.
"""

import argparse
import json
import re
import shutil
import sqlite3
import sys
from pathlib import Path

import tantivy

TITLE_BOOST = 2.0
DEFAULT_FIELDS = ["title", "abstract", "authors"]
_AUTHOR_FIELD = re.compile(r"\bauthors?:", re.IGNORECASE)
_CATEGORY = re.compile(r"\btag:([a-z-]+\.[A-Za-z-]+)\b")
_OTHER_TAG = re.compile(r"\btag:\S+")


def build_schema():
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("arxiv_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("abstract", tokenizer_name="en_stem")
    builder.add_text_field("authors")
    builder.add_text_field("categories", tokenizer_name="raw")
    return builder.build()


def _stamp(db: Path) -> str:
    stat = db.stat()
    return f"{db.resolve()} {stat.st_size} {stat.st_mtime_ns}"


def open_index(db: Path, index_dir: Path) -> tantivy.Index:
    """The index of every paper of `db` that has an arXiv id, built when missing or stale."""
    stamp_file = index_dir / "catalogue.stamp"
    if stamp_file.exists() and stamp_file.read_text() == _stamp(db):
        return tantivy.Index.open(str(index_dir))
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    index = tantivy.Index(build_schema(), path=str(index_dir))
    writer = index.writer(heap_size=512_000_000, num_threads=2)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute("SELECT arxiv_id, title, abstract, authors, categories FROM papers"
                        " WHERE arxiv_id IS NOT NULL")
    for arxiv_id, title, abstract, authors, categories in rows:
        doc = tantivy.Document()
        doc.add_text("arxiv_id", arxiv_id)
        doc.add_text("title", title)
        doc.add_text("abstract", abstract)
        doc.add_text("authors", authors or "")
        for category in (categories or "").split():
            doc.add_text("categories", category)
        writer.add_document(doc)
    conn.close()
    writer.commit()
    writer.wait_merging_threads()
    stamp_file.write_text(_stamp(db))
    index.reload()
    return index


def translate(q: str) -> str:
    """The catalogue's query language in tantivy's: same fields, a category filter as a
    required term. Topic tags have no counterpart here and are dropped."""
    q = _AUTHOR_FIELD.sub("authors:", q)
    q = _CATEGORY.sub(lambda m: f"+categories:{m.group(1)}", q)
    return " ".join(_OTHER_TAG.sub(" ", q).split())


def parse(index: tantivy.Index, q: str):
    kwargs = {"default_field_names": DEFAULT_FIELDS, "field_boosts": {"title": TITLE_BOOST}}
    try:
        return index.parse_query(q, **kwargs)
    except ValueError:
        query, _errors = index.parse_query_lenient(q, **kwargs)
        return query


def search(index: tantivy.Index, q: str, k: int) -> list[str]:
    searcher = index.searcher()
    hits = searcher.search(parse(index, translate(q)), limit=k).hits
    return [searcher.doc(address)["arxiv_id"][0] for _score, address in hits]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.tantivy_relevance")
    parser.add_argument("db", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    index = open_index(args.db, args.index_dir)
    queries = json.load(sys.stdin)
    json.dump({item["id"]: search(index, item["q"], args.k) for item in queries}, sys.stdout)


if __name__ == "__main__":
    main()
