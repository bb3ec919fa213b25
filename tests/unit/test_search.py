"""search.run end to end: every operator and field, synonyms, fallback, spelling, sorts, pages, snippets."""

import time

import numpy as np
import pytest
from markupsafe import escape
from search_fixtures import PAPERS, catalogue, fixture_database, keys, search  # noqa: F401

from app.search.catalogue import forget
from app import search as engine
from app.ingest.records import normalize_title
from app.results import MAX_PAGE, MAX_PER_PAGE, SearchResult
from app.search import SearchParams, cost, run

pytestmark = pytest.mark.usefixtures("catalogue")

MOE = {"2401.00001", "2401.00002", "2301.00003"}


# --- words, phrases and operators ------------------------------------------------------

def test_every_plain_word_must_match():
    assert set(keys("sparse experts")) == {"2401.00001", "2401.00002", "2511.00030"}


def test_words_are_stemmed():
    assert set(keys("distilling")) == {"2001.00006", "2101.00005"}


def test_a_phrase_keeps_its_word_order():
    assert keys('"model language"') == []
    assert len(keys("model language")) > 1
    assert "2508.00027" in keys('"language models"')


def test_or_finds_either_word():
    assert set(keys("gpipe OR switch")) == {"1811.06965", "2511.00030"}


@pytest.mark.parametrize("q", ["experts -choice", "experts NOT choice"])
def test_a_word_can_be_excluded(q):
    found = set(keys(q))
    assert "2401.00002" not in found and {"2401.00001", "2511.00030"} <= found


def test_prefix_matches_word_beginnings():
    assert set(keys("distil*")) == {"2001.00006", "2101.00005"}


def test_parentheses_group():
    assert set(keys("(tensor OR gpipe) pipeline")) == {"2501.00019", "1811.06965"}


# --- fields ----------------------------------------------------------------------------

def test_title_field_ignores_abstracts():
    assert len(keys("routing")) > 1
    assert keys("title:routing") == ["2401.00002"]


def test_abstract_field_ignores_titles():
    assert keys("gpipe") == ["1811.06965"]
    assert keys("abstract:gpipe") == []


def test_author_field_searches_author_names():
    assert set(keys("author:shazeer")) == {"2510.00029", "2511.00030"}
    assert keys("author:nunez") == ["2404.00010"]  # diacritics folded: José Núñez


@pytest.mark.parametrize("q", ["tag:cs.DC", "tag:CS.dc"])
def test_tag_field_selects_a_category_whatever_its_case(q):
    assert set(keys(q)) == {"2501.00019", "2601.00031"}


def test_tag_field_combines_with_words():
    assert keys("pipeline tag:cs.DC") == ["2501.00019"]
    found = keys("pipeline -tag:cs.DC")
    assert "1811.06965" in found and "2501.00019" not in found


def test_year_and_year_ranges():
    assert set(keys("year:2020..2022")) == {"2001.00006", "2101.00005", "2201.00004"}
    assert all(h.published.year == 2024 for h in search("year:2024").hits)
    assert {h.published.year for h in search("year:>2025").hits} == {2026}


@pytest.mark.parametrize("q", ["id:2401.00001", "id:2401.00001v3", "id:arxiv:2401.00001"])
def test_id_field_finds_one_paper(q):
    assert keys(q) == ["2401.00001"]


def test_id_field_takes_old_style_arxiv_ids():
    assert keys("id:hep-th/9901001") == ["hep-th/9901001"]


# --- any input is safe -----------------------------------------------------------------

HOSTILE = ['"unbalanced quote', "AND", "OR", "NOT", "*", "title:", "tag:", "year:", "id:", "C++",
           "FBK@IWSLT2021", "GPU/TPUs", "🦜🔥 emoji", "\x00\x01\x7f control", "'; DROP TABLE papers; --",
           "papers_fts MATCH '*'", ")))(((", "NEAR(a b)", "title:(", '""', "a" * 10_000, "x " * 5_000,
           "-", "--", "- -", "NOT NOT NOT", "year:99999999999999999999", "year:2020..", "tag:*",
           "\ue000marker\ue001", "\ud800 lone surrogate", "{title}: x",
           "title:title:title:", "col:umn: x", "^", "a^2", "$$", "\\", "%", "_"]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_input_never_raises(q):
    result = run(SearchParams(q=q))
    assert result.total >= 0 and len(result.hits) <= result.params.per_page


def test_groups_nested_past_the_bound_are_refused_never_read_as_other_words():
    with pytest.raises(cost.Refused) as refused:
        run(SearchParams(q="(" * 200 + "a" + ")" * 200))
    assert refused.value.limit == "max_nesting"


@pytest.mark.parametrize("q", ["C++", "FBK@IWSLT2021", "GPU/TPUs"])
def test_punctuated_words_still_find_their_paper(q):
    assert "2403.00009" in keys(q)


def test_sql_in_the_query_is_only_text():
    run(SearchParams(q="'; DROP TABLE papers; --"))
    assert search().total == PAPERS


def test_a_very_long_query_is_capped_and_quick():
    started = time.perf_counter()
    run(SearchParams(q="transformer " * 2_000))
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("field, value", [
    ("page", 0), ("page", -1), ("page", MAX_PAGE + 1), ("page", "2"), ("page", True), ("page", 1.0),
    ("per_page", 0), ("per_page", MAX_PER_PAGE + 1), ("per_page", 10_000),
    ("sort", "sideways"), ("sort", "")])
def test_a_view_out_of_range_is_refused_on_construction_not_clamped(field, value):
    with pytest.raises(ValueError, match=field):
        SearchParams(q="experts", **{field: value})


def test_the_widest_view_the_limits_allow_is_searched():
    result = run(SearchParams(q="experts", page=1, per_page=MAX_PER_PAGE, sort="title"))
    assert result.params.per_page == MAX_PER_PAGE and result.total == 5 and len(result.hits) == 5
    assert run(SearchParams(q="experts", page=MAX_PAGE)).hits == ()


def test_links_never_name_a_page_past_the_limit():
    huge = SearchResult(params=SearchParams(per_page=1), total=MAX_PAGE * 3, hits=())
    assert huge.pages == MAX_PAGE * 3 and huge.last_page == MAX_PAGE
    assert SearchResult(params=SearchParams(per_page=10), total=95, hits=()).last_page == 10


# --- synonyms, fallback, spelling ------------------------------------------------------

@pytest.mark.parametrize("q", ["MoE", "mixture of experts", "mixture-of-experts", "mixtures of experts"])
def test_moe_spellings_find_the_same_papers(q):
    assert set(keys(q)) == MOE


def test_expansions_are_reported():
    assert ("moe", "mixture of experts") in search("MoE").expansions


def test_abbreviation_expands_to_its_long_form():
    result = search("KD")
    assert [h.key for h in result.hits] == ["2101.00005"]
    assert ("kd", "knowledge distillation") in result.expansions


def test_llm_and_large_language_model_meet():
    assert {"2406.00012", "2405.00011"} <= set(keys("LLM"))
    assert {"2406.00012", "2405.00011"} <= set(keys("large language model"))


def test_no_strict_match_falls_back_to_any_word():
    strict = search("apples zebra")
    assert strict.relaxed and "2602.00032" in [h.key for h in strict.hits]


def test_fallback_keeps_strict_matches_on_top():
    from array import array
    from types import SimpleNamespace


    from app.search import ranking
    # Papers 1-4; 4 is the best BM25 match but only 2 matched strictly (pinned).
    cat = SimpleNamespace(size=5, date_rank=array("i", [0, 1, 2, 3, 4]))
    scored = ranking.Scored(np.array([0, 1, 1, 1, 1], dtype=bool), np.array([0, -1.0, -2.0, -3.0, -4.0]))
    assert ranking.page(cat, scored, 0b11110, 0b00100, 0, 4) == [2, 4, 3, 1]
    assert ranking.page(cat, scored, 0b11110, 0b00100, 1, 2) == [4, 3]


def test_enough_strict_matches_are_not_relaxed():
    assert not search("experts").relaxed


def test_a_query_with_operators_is_taken_at_its_word():
    assert not search("(tensor OR gpipe) pipeline").relaxed
    assert search('"apples and oranges" zebra').relaxed  # nothing at all: loosened even so


@pytest.mark.parametrize("q, suggestion", [
    ("distilation", "distillation"), ("paralelism", "parallelism"), ("mixtrue", "mixture"),
    ("knowledge distilation", "knowledge distillation"), ("Distilation", "Distillation"),
    ("pipeline paralelism tag:cs.DC", "pipeline parallelism tag:cs.DC"),
    ("langauge modle", "language model")])  # swapped letters count as one edit
def test_misspelt_words_get_a_suggestion(q, suggestion):
    assert search(q).suggestion == suggestion


@pytest.mark.parametrize("q", ["knowledge distillation", "pipeline parallelism", "mixture", "distil*", "gpipe",
                               "author:shazeer", "MoE", ""])
def test_well_spelt_queries_get_no_suggestion(q):
    assert search(q).suggestion is None


# --- ranking and sorts -----------------------------------------------------------------

def test_a_title_match_outranks_an_abstract_match():
    assert keys("routing")[0] == "2401.00002"


def test_equal_scores_put_the_newer_paper_first():
    assert keys("zeta") == ["2604.00034", "2603.00033"]


def test_relevance_is_the_default_with_a_query_and_newest_without():
    assert search("experts").params.effective_sort == "relevance"
    assert keys() == keys(sort="newest")


def test_newest_and_oldest_put_undated_papers_last():
    for sort, ordered in (("newest", lambda d: sorted(d, reverse=True)), ("oldest", sorted)):
        hits = search(sort=sort).hits
        dates = [h.published for h in hits if h.published]
        assert dates == ordered(dates)
        assert hits[-1].published is None


def test_title_sort_is_alphabetical():
    titles = [normalize_title(h.title) for h in search("model", sort="title").hits]
    assert titles == sorted(titles)


def test_a_sort_applies_to_a_query():
    hits = search("language", sort="oldest").hits
    assert [h.published for h in hits] == sorted(h.published for h in hits)


# --- pagination ------------------------------------------------------------------------

@pytest.mark.parametrize("q, sort", [("", None), ("model", None), ("model", "title"), ("language", "oldest")])
def test_pages_cover_every_result_once(q, sort):
    everything = keys(q, sort=sort)
    paged = []
    for page in range(1, len(everything) // 3 + 2):
        paged += keys(q, sort=sort, page=page, per_page=3)
    assert paged == everything


def test_a_page_past_the_end_is_empty_but_keeps_the_total():
    result = search(page=99, per_page=10)
    assert result.hits == () and result.total == PAPERS and result.pages == -(-PAPERS // 10)


@pytest.mark.parametrize("q, tags", [("model", ()), ("model", ("cs.LG",)), ("language models", ()),
                                     ("experts OR routing", ()), ("mixture of experts", ()),
                                     ("(tensor OR gpipe) pipeline -zebra", ())])
def test_relevance_order_is_bm25_over_every_match_whatever_the_filters(q, tags):
    from app.db import reader
    from app.engine import get_engine
    from app.search.catalogue import catalogue as current
    from app.settings import get_settings

    result = search(q, tags=tags, per_page=100)
    conn = reader()
    cat = current(conn)
    match = engine.compile_query(q).match
    scored = get_engine().rank(conn, match, engine.WEIGHTS, None, 0)
    shown = {h.id for h in result.hits}
    expected = [i for i, _ in sorted(scored, key=lambda r: (r[1], cat.date_rank[r[0]])) if i in shown]
    assert len(shown) == result.total and [h.id for h in result.hits] == expected


@pytest.mark.parametrize("warm", [("model",), ("experts", "language"), ("pipeline", "zebra")])
@pytest.mark.parametrize("q", ["model routing", "language models", "experts OR routing",
                               "(tensor OR gpipe) pipeline -zebra", "mixture of experts"])
def test_scores_are_the_engines_when_only_some_words_were_scored_before(q, warm):
    # Warmed words come from arrays, the others are scored by the engine for the query's
    # matches only: the sum must still be the engine's own score of the whole query, bit for bit.
    from app.db import reader
    from app.engine import get_engine
    from app.search import ranking
    from app.search.catalogue import catalogue as current

    forget()
    conn = reader()
    cat = current(conn)
    ranking.warm(conn, cat, list(warm))
    match = engine.compile_query(q).match
    expected = dict(get_engine().rank(conn, match, engine.WEIGHTS, None, 0))
    scored = ranking.score(conn, cat, match)
    assert set(np.flatnonzero(scored.match).tolist()) == set(expected)
    assert {i: scored.score[i] for i in expected} == expected
    forget()


def test_forms_of_one_index_term_share_their_scores_and_the_warm_up_covers_frequent_terms(monkeypatch):
    from app.db import reader
    from app.plan import Words
    from app.search import ranking
    from app.search.catalogue import catalogue as current

    forget()
    conn = reader()
    cat = current(conn)
    ranking.warm(conn, cat, ["models"])
    assert ranking.known(cat, Words(("model",))) and ranking.known(cat, Words(("modeling",)))
    assert not ranking.known(cat, Words(("model",), prefix=True))  # a prefix is another search
    # Terms in too few papers are left for the searches that ask for them (a share that
    # leaves some out of 93 papers).
    monkeypatch.setattr(ranking, "WARM_MIN_SHARE", 0.05)
    floor = int(ranking.WARM_MIN_SHARE * cat.total)
    rare = [w for w in ("zebra", "gpipe", "giraffe", "apples") if engine.run(SearchParams(q=w)).total < floor]
    forget()
    cat = current(conn)
    ranking.warm(conn, cat, rare)
    assert rare and not any(ranking.known(cat, Words((w,))) for w in rare)
    forget()


def test_the_start_up_warm_up_scores_frequent_terms_where_the_engine_scores_quickly():
    from app.db import reader
    from app.engine import get_engine
    from app.search.catalogue import catalogue as current

    forget()
    engine.warm(background=False)
    cat = current(reader())
    assert bool(cat.warm_leaves) == get_engine().warm_terms  # FTS5 yes; PostgreSQL, in Python, no
    forget()


# --- what a hit carries ----------------------------------------------------------------

def test_matches_are_marked_in_title_and_snippet():
    hit = search("routing").hits[0]
    assert "<mark>Routing</mark>" in hit.title_html
    assert "<mark>routing</mark>" in hit.snippet


def test_synonyms_are_marked_too():
    hit = next(h for h in search("MoE").hits if h.key == "2301.00003")
    assert "<mark>Mixture of Experts</mark>" in hit.title_html


def test_markup_in_the_data_is_escaped():
    hit = search("robustness parsers").hits[0]
    assert hit.key == "2505.00023"
    for html in (hit.title_html, hit.snippet):
        assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in hit.title_html and "<mark>Robustness</mark>" in hit.title_html


def test_marker_characters_in_the_data_cannot_forge_marks():
    hit = search("private markers").hits[0]
    assert hit.key == "2506.00024"
    assert hit.title_html == escape(hit.title) and "<mark>" not in hit.snippet


def test_a_hit_has_its_record():
    hit = search("id:2510.00029").hits[0]
    assert hit.authors == ("Ashish Vaswani", "Noam Shazeer")
    assert str(hit.published) == "2025-10-10" and hit.url == "https://arxiv.org/abs/2510.00029"
    assert {"cs.CL", "cs.LG"} <= {t.slug for t in hit.tags if t.kind == "category"}


def test_without_a_query_the_snippet_is_the_start_of_the_abstract():
    hit = search("id:2401.00001").hits[0]
    assert hit.snippet.startswith("We route each token") and "<mark>" not in hit.snippet


def test_a_long_query_of_unknown_words_is_answered_quickly():
    started = time.perf_counter()
    run(SearchParams(q=" ".join(f"qzxv{chr(97 + i % 26)}{chr(97 + i // 26)}word" for i in range(60))))
    assert time.perf_counter() - started < 2


def test_the_request_time_limit_stops_python_work_too():
    # Scores of words seen before are assembled in Python, where no SQLite statement runs
    # to be interrupted: the time limit is checked between those steps as well.
    from app.db import reader, time_limit
    from app.search import ranking
    from app.search.catalogue import catalogue as current
    from app.search.query import compile_query
    from app.settings import get_settings
    from app.sqlite_driver import sqlite3

    conn = reader()
    cat = current(conn)
    match = compile_query("experts routing").match
    for words in (match.parts if hasattr(match, "parts") else (match,)):
        ranking.leaf(conn, cat, words)  # scored: assembling them needs no statement
    with time_limit(1e-9):
        time.sleep(0.001)
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            ranking._assembled(conn, cat, match)
