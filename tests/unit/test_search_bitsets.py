"""The set algebra under the engine, and the in-memory catalogue following the database."""

import json

from hypothesis import given
from hypothesis import strategies as st
from search_fixtures import FIXTURE, PAPERS, load

from app.search import bitsets
from app.search import SearchParams, run

ids = st.sets(st.integers(min_value=1, max_value=3000), max_size=300)


@given(ids)
def test_members_returns_what_from_ids_stored(values):
    assert bitsets.members(bitsets.from_ids(sorted(values), 100)) == sorted(values)


@given(ids, st.integers(min_value=0, max_value=400))
def test_top_keeps_the_highest_ids(values, count):
    kept = bitsets.members(bitsets.top(bitsets.from_ids(sorted(values), 10), count))
    assert kept == sorted(values)[-count:] if count else kept == []


@given(ids, st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=50))
def test_in_order_follows_the_given_order(values, start, count):
    order = list(range(3000, -1, -1))
    bits = bitsets.from_ids(sorted(values), 3001)
    assert bitsets.in_order(order, bits, start, count, 3001) == sorted(values, reverse=True)[start:start + count]


def test_parse_ids_reads_group_concat():
    assert bitsets.parse_ids("3,1,2") == [3, 1, 2]
    assert bitsets.parse_ids(None) == [] and bitsets.parse_ids("") == []


def test_the_catalogue_follows_new_papers(database, tmp_path):
    load(database)
    assert run(SearchParams(q="")).total == PAPERS
    assert run(SearchParams(q="zebra")).total == 0
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"id": "2605.00099", "title": "Zebra Stripes as Camouflage",
                                 "abstract": "Why zebras have stripes.", "authors": ["Z. Ebra"],
                                 "published": "2026-05-01", "categories": ["q-bio.PE"]}) + "\n")
    load(database, files=(extra,))
    result = run(SearchParams(q="zebra"))
    assert [h.key for h in result.hits] == ["2605.00099"]
    assert [(v.value, v.count) for v in result.facets["category"]] == [("q-bio.PE", 1)]
    assert run(SearchParams(q="")).total == PAPERS + 1


def test_fixture_file_is_json_lines():
    assert all(json.loads(line)["title"] for line in FIXTURE.read_text(encoding="utf-8").splitlines())


def test_an_empty_catalogue_answers_empty(database):
    for q in ("", "model", "tag:cs.LG", "distilation", "-model"):
        result = run(SearchParams(q=q))
        assert result.total == 0 and result.hits == () and result.suggestion is None
