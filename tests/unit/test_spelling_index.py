"""Did you mean, against a small catalogue built for it: a correction is judged by the index's own
stems and document counts, an author's name is corrected from author names, and a suggestion
that would find nothing is never shown."""

import json

import pytest
from backends import database_url
from search_fixtures import load

from app.search import SearchParams, run
from app.settings import get_settings

RECORDS = [
    # "splatting": FTS5's Porter stems it "splat", whoosh's "splatt"; "speaking" is two edits from
    # "splating", "splatting" one.
    *({"title": f"Gaussian splatting for scene {n}", "abstract": "Splatting renders radiance fields fast.",
       "authors": ["Yoshua Bengio"]} for n in range(4)),
    *({"title": f"Speaking styles of speakers {n}", "abstract": "Speaking and speaking again.",
       "authors": ["Ada Lovelace"]} for n in range(12)),
    # "bengali" is a word of the titles and abstracts, never an author's name.
    *({"title": f"Bengali speech corpora {n}", "abstract": "A Bengali corpus for speech.",
       "authors": ["Grace Hopper"]} for n in range(20)),
]


@pytest.fixture(scope="module")
def small_catalogue(make_database, tmp_path_factory):
    path = tmp_path_factory.mktemp("spelling") / "papers.jsonl"
    path.write_text("".join(json.dumps({"id": f"2501.{i:05d}", "published": "2025-01-02", **record}) + "\n"
                            for i, record in enumerate(RECORDS, start=1)), encoding="utf-8")
    return load(make_database("spelling"), files=(path,))


@pytest.fixture
def search(small_catalogue, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url(small_catalogue))
    get_settings.cache_clear()
    yield lambda q, **params: run(SearchParams(q=q, per_page=100, **params))
    get_settings.cache_clear()


def test_a_correction_is_counted_with_the_stems_of_the_index(search):
    result = search("gaussian splating")
    assert result.corrected_query == "gaussian splatting" and result.total == 4


def test_an_author_is_corrected_from_author_names_only(search):
    result = search("author:bengoi", as_typed=True)
    assert result.suggestion == "author:bengio"
    assert search("author:bengio").total == 4


def test_a_suggestion_that_finds_nothing_is_not_shown(search):
    # Each word alone is a fine correction ("speaking" and "gaussian" are both written), but no
    # paper has both.
    assert search("speeking", as_typed=True).suggestion == "speaking"
    for q in ("gaussian speeking", "author:bengoi speeking"):
        result = search(q, as_typed=True)
        assert result.suggestion is None and result.corrected_query is None
        assert search(q).corrected_query is None
