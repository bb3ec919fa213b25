"""Correct-then-search, the minimum-should-match fallback and live typing (the last word a prefix)."""

import pytest
from search_fixtures import catalogue, fixture_database, keys, search  # noqa: F401

from app.search import typed_so_far

pytestmark = pytest.mark.usefixtures("catalogue")


# --- correct, then search --------------------------------------------------------------

def test_a_misspelt_query_that_finds_nothing_shows_the_corrected_results():
    result = search("paralelism")
    assert result.corrected_query == "parallelism"
    assert set(h.key for h in result.hits) == set(keys("parallelism"))
    assert result.total == search("parallelism").total


def test_the_query_as_typed_can_be_forced():
    result = search("paralelism", as_typed=True)
    assert result.corrected_query is None and result.total == 0
    assert result.suggestion == "parallelism"  # still offered


def test_a_misspelling_the_index_cannot_tell_apart_keeps_its_results_and_its_suggestion():
    # "distilation" stems like "distillation": the results are already right.
    result = search("distilation")
    assert result.corrected_query is None and result.suggestion == "distillation"
    assert result.total == search("distillation").total


@pytest.mark.parametrize("q", ["gpipe", "MoE", "author:shazeer", "knowledge distillation"])
def test_correct_words_are_never_corrected(q):
    assert search(q).corrected_query is None


def test_a_word_typed_with_inner_capitals_is_a_name_and_never_corrected():
    # "GPipe", "SketchDNN": capitals past the first letter are written on purpose.
    assert search("Paralelism").corrected_query == "Parallelism"
    named = search("ParaLelism")
    assert named.corrected_query is None and named.suggestion is None


# --- the fallback ------------------------------------------------------------------------

def test_the_fallback_does_not_count_stopwords():
    # "of the" would otherwise make 1 of 3 words enough for any paper.
    result = search("apples of the zebra")
    assert result.relaxed
    assert result.total == search("apples zebra").total


def test_the_fallback_requires_most_of_the_words():
    # 2 of 3 meaningful words: a paper with only one of them is not an answer.
    assert search("apples OR zebra OR giraffe").total == 1
    assert search("apples zebra giraffe").total == 0
    assert search("apples oranges giraffe").relaxed and search("apples oranges giraffe").total == 1


def test_a_loosened_query_never_answers_most_of_the_catalogue():
    from search_fixtures import PAPERS
    result = search("model language zebra")
    assert result.total < PAPERS / 2


# --- typing --------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, searched", [
    ("mixt", "mixt*"), ("mi", ""), ("mixture o", "mixture"), ("mixture of ex", "mixture of"), ("mixture of exp", "mixture of exp*"),
    ("mixture ", "mixture "), ('"mixture of', '"mixture of'), ("title:rout", "title:rout"),
    ("routing -pip", "routing -pip")])
def test_while_typing_the_last_word_is_a_prefix_once_it_has_three_letters(typed, searched):
    assert typed_so_far(typed) == searched


def test_a_live_request_finds_words_by_their_beginning_and_a_submitted_one_does_not():
    assert keys("paral", typing=True) and set(keys("paral", typing=True)) == set(keys("paral*"))
    assert keys("paral", as_typed=True) == []


def test_counts_never_rise_while_a_query_is_typed():
    # (A word completed by a space may bring in its synonyms: "mixture of experts " adds MoE.)
    typed = "mixture of experts"
    counts = [search(typed[:n], typing=True).total for n in range(1, len(typed) + 1)]
    assert all(later <= earlier for earlier, later in zip(counts, counts[1:])), counts
    assert counts[-1] > 0


# --- exact scores from per-phrase contributions ---------------------------------------------

@pytest.mark.parametrize("q", ["model", "language models", "experts OR routing", "mixture of experts",
                               "(tensor OR gpipe) pipeline -zebra", "title:routing experts", "distil*"])
def test_scores_assembled_from_single_phrases_are_the_engines_to_the_last_bit(q):
    from app.db import reader
    from app.engine import get_engine
    from app.search import WEIGHTS, ranking
    from app.search.catalogue import catalogue as current
    from app.search.query import compile_query
    from app.settings import get_settings

    conn = reader()
    cat = current(conn)
    match = compile_query(q).match
    assembled = ranking._assembled(conn, cat, match)
    whole = dict(get_engine().rank(conn, match, WEIGHTS, None, 0))
    assert set(assembled.match.nonzero()[0].tolist()) == set(whole)
    assert all(assembled.score[i] == score for i, score in whole.items())
