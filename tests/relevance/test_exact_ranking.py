"""Relevance order is exact on real papers: pages 1 and 2 of a search, with or without a
filter, are those of a brute-force BM25 ranking of every match (ties newest first).

The queries are drawn from the corpus's own titles: 1 to 4 consecutive words, half of them
filtered by the category of the paper the words came from. The catalogue is
PAPERS_CORPUS_DB when set (a catalogue built from the whole corpus), else one built from
the first EXACT_SLICE papers of the shared corpus (a minute or two). Skipped without either.
"""

import gzip
import os
import random
import re
import sys
from itertools import islice
from pathlib import Path

import pytest

from app.db import reader
from app.engine import get_engine
from app.search import WEIGHTS, SearchParams, run
from app.search.catalogue import catalogue
from app.search.query import compile_query
from app.settings import get_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from search_fixtures import load  # noqa: E402

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "arxiv-ai-2025-2026.jsonl.gz"
EXACT_SLICE = 15_000
QUERIES = 260
CHECKED_AT_LEAST = 200
PER_PAGE = 10

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    prebuilt = os.environ.get("PAPERS_CORPUS_DB")
    if prebuilt and Path(prebuilt).exists():
        return Path(prebuilt)
    if not CORPUS.exists():
        pytest.skip(f"no corpus: the shared corpus is not at {CORPUS} and PAPERS_CORPUS_DB is not set")
    directory = tmp_path_factory.mktemp("exact")
    part = directory / "slice.jsonl"
    with gzip.open(CORPUS, "rt", encoding="utf-8") as source:
        part.write_text("".join(islice(source, EXACT_SLICE)), encoding="utf-8")
    return load(directory / "papers.db", files=(part,))


@pytest.fixture(scope="module")
def on_corpus(corpus_db):
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = f"sqlite:///{corpus_db}"
    get_settings.cache_clear()
    yield
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous
    get_settings.cache_clear()


def _queries(conn) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(10)
    top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
    out: list[tuple[str, tuple[str, ...]]] = []
    while len(out) < QUERIES:
        row = conn.execute(
            "SELECT p.title, (SELECT t.slug FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
            " WHERE pt.paper_id = p.id AND t.kind = 'category' ORDER BY t.slug LIMIT 1)"
            " FROM papers p WHERE p.id >= ? ORDER BY p.id LIMIT 1", (rng.randint(1, top),)).fetchone()
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", row[0]) if w.upper() not in ("AND", "OR", "NOT")]
        if not words:
            continue
        n = rng.randint(1, min(4, len(words)))
        first = rng.randint(0, len(words) - n)
        tags = (row[1],) if row[1] and len(out) % 2 else ()
        out.append((" ".join(words[first:first + n]), tags))
    return out


def _brute_force(conn, cat, q: str, tags: tuple[str, ...]) -> list[int]:
    """Every match scored by the engine in one statement, filtered, sorted: no cache, no bound."""
    scored = get_engine().rank(conn, compile_query(q).match, WEIGHTS, None, 0)
    allowed = cat.universe
    for slug in tags:
        allowed &= cat.tag(slug).bits
    kept = [(score, cat.date_rank[i], i) for i, score in scored if (allowed >> i) & 1]
    return [i for _, _, i in sorted(kept)]


def test_pages_one_and_two_equal_a_brute_force_bm25_ranking_of_every_match(on_corpus):
    conn = reader()
    cat = catalogue(conn, get_settings().database_path)
    checked, filtered = 0, 0
    for q, tags in _queries(conn):
        first = run(SearchParams(q=q, tags=tags, sort="relevance", per_page=PER_PAGE, as_typed=True))
        if first.relaxed or not first.total:  # a loosened reading is another query
            continue
        second = run(SearchParams(q=q, tags=tags, sort="relevance", per_page=PER_PAGE, page=2, as_typed=True))
        expected = _brute_force(conn, cat, q, tags)
        assert first.total == len(expected), (q, tags)
        assert [h.id for h in first.hits] == expected[:PER_PAGE], (q, tags)
        assert [h.id for h in second.hits] == expected[PER_PAGE:2 * PER_PAGE], (q, tags)
        checked += 1
        filtered += bool(tags)
    assert checked >= CHECKED_AT_LEAST and filtered >= CHECKED_AT_LEAST // 3
