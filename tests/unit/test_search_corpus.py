"""On a slice of the real arXiv corpus: the bitset engine agrees with SQLite evaluating the same query.

Marked `corpus`: skipped, saying so, when the corpus (setting PAPERS_CORPUS) is absent.
"""

import gzip
from itertools import islice

import pytest
from backends import database_url
from search_fixtures import load

from app.db import reader
from app.search.query import compile_query
from app.tagging import papers_matching
from app.search import SearchParams, run
from app.settings import Settings, get_settings

CORPUS = Settings().papers_corpus  # PAPERS_CORPUS
SLICE = 3000

pytestmark = pytest.mark.corpus

QUERIES = ["model", "language models", "diffusion -video", "tag:cs.CV", "tag:cs.LG transformer",
           "year:2025 reinforcement", "title:survey", "author:wang", "(graph OR molecule) neural",
           "-model", "agent* tag:cs.AI -tag:cs.CL", "mixture of experts", "LLM", "id:2503.11685"]


@pytest.fixture(scope="module")
def corpus_slice(tmp_path_factory, make_database):
    directory = tmp_path_factory.mktemp("corpus")
    part = directory / "slice.jsonl"
    with gzip.open(CORPUS, "rt", encoding="utf-8") as source:
        part.write_text("".join(islice(source, SLICE)), encoding="utf-8")
    return load(make_database("corpus"), files=(part,))


@pytest.fixture
def on_slice(corpus_slice, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url(corpus_slice))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def sql_ids(q: str) -> set[int]:
    """The same compiled plan evaluated straight from the database (as tagging does)."""
    return set(papers_matching(reader(), compile_query(q)))


@pytest.mark.usefixtures("on_slice")
@pytest.mark.parametrize("q", QUERIES)
def test_totals_and_facets_agree_with_sqlite(q):
    expected = sql_ids(q)
    result = run(SearchParams(q=q))
    assert result.total == len(expected) or result.relaxed
    if result.relaxed:
        return
    marks = ",".join("?" * len(expected)) or "NULL"
    rows = reader().execute(
        f"SELECT t.kind, t.slug, count(*) FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
        f" WHERE pt.paper_id IN ({marks}) GROUP BY t.kind, t.slug", sorted(expected)).fetchall()
    for kind in ("topic", "category"):
        counts = {slug: n for k, slug, n in rows if k == kind}
        shown = {v.value: v.count for v in result.facets[kind] if v.count}
        if not result.facets_more.get(kind):
            assert shown == counts
        else:  # a long group shows its most frequent values
            assert all(counts[slug] == n for slug, n in shown.items())
            assert min(shown.values()) >= sorted(counts.values(), reverse=True)[len(shown) - 1]


@pytest.mark.usefixtures("on_slice")
@pytest.mark.parametrize("sort, order", [("newest", "p.published DESC, p.id DESC"),
                                         ("oldest", "p.published, p.id")])
def test_date_sorts_agree_with_sqlite(sort, order):
    matching = sorted(sql_ids("learning"))
    expected = [r[0] for r in reader().execute(
        f"SELECT p.key FROM papers p WHERE p.id IN ({','.join('?' * len(matching))})"
        f" AND p.published IS NOT NULL ORDER BY {order} LIMIT 40", matching)]
    got = [h.key for page in (1, 2) for h in run(SearchParams(q="learning", sort=sort, page=page)).hits]
    assert got == expected
