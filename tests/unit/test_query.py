"""The query language: what each construct finds, and that no input can break FTS5."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import get_engine
from app.plan import Matches, Not, Or, Tag, Years
from app.search.query import MAX_QUERY_CHARS, CompiledQuery, compile_query, fts_tokens, loosen
from app.sqlite_driver import sqlite3
from app.tagging import papers_matching

fts = get_engine().render  # the FTS5 text the engine makes of a plan's match part

SCHEMA = """
CREATE TABLE papers (id INTEGER PRIMARY KEY, key TEXT UNIQUE, arxiv_id TEXT UNIQUE,
                     title TEXT, abstract TEXT, authors TEXT, year INTEGER);
CREATE VIRTUAL TABLE papers_fts USING fts5(
    title, abstract, authors, content='papers', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE tags (id INTEGER PRIMARY KEY, slug TEXT UNIQUE, name TEXT, kind TEXT);
CREATE TABLE paper_tags (tag_id INTEGER, paper_id INTEGER, PRIMARY KEY (tag_id, paper_id));
"""

# key, arxiv_id, year, title, abstract, authors
PAPERS = [
    ("sparse-moe", "2401.00001", 2024, "Sparse Mixture-of-Experts at Scale",
     "We route tokens to experts.", "Ada Lovelace"),
    ("moe-routing", "2401.00002", 2024, "Better MoE Routing",
     "A load balancing loss for sparse models.", "Alan Turing"),
    ("moe-phrase", "2301.00003", 2023, "Scaling a mixture of experts language model",
     "Conditional computation.", "Grace Hopper"),
    ("domain-experts", "2201.00004", 2022, "Domain experts label a mixture of datasets",
     "Annotation by experts of a data mixture.", "Edsger Dijkstra"),
    ("kd", "2101.00005", 2021, "Knowledge distillation for small students",
     "A teacher trains a student.", "Barbara Liskov"),
    ("distilling", "2001.00006", 2020, "Distilling step by step",
     "Smaller models with less data.", "Donald Knuth"),
    ("gpipe", "1811.06965", 2019, "GPipe: pipeline parallelism for giant networks",
     "Micro-batches flow through pipeline stages.", "Yanping Huang"),
    ("data-pipeline", "2402.00008", 2024, "An automated data pipeline for speech corpora",
     "Crawling and filtering audio.", "Ken Thompson"),
    ("punctuation", "2403.00009", 2024, "C++ systems at FBK@IWSLT2021 on GPU/TPUs",
     "Speech translation.", "Dennis Ritchie"),
    ("accents", "2404.00010", 2024, "Café résumé: Über naïve tokenizers",
     "Diacritics are folded.", "José Núñez"),
    ("by-moe", "2405.00011", 2025, "Query optimizers for databases",
     "Cardinality estimation.", "Moe Kayali"),
]
TAGS = [("mixture-of-experts", "topic", ["sparse-moe", "moe-routing"]),
        ("cs.LG", "category", ["sparse-moe", "gpipe", "kd"])]


@pytest.fixture(scope="module")
def db():
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    for i, (key, arxiv_id, year, title, abstract, authors) in enumerate(PAPERS, start=1):
        conn.execute("INSERT INTO papers VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (i, key, arxiv_id, title, abstract, authors, year))
    conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')")
    for slug, kind, keys in TAGS:
        tag_id = conn.execute("INSERT INTO tags(slug, name, kind) VALUES (?, ?, ?)",
                              (slug, slug, kind)).lastrowid
        conn.executemany("INSERT INTO paper_tags SELECT ?, id FROM papers WHERE key = ?",
                         [(tag_id, k) for k in keys])
    yield conn
    conn.close()


def execute(conn, cq: CompiledQuery) -> list[str]:
    """Run a compiled query's whole plan (match and filters) over the table, in id order."""
    keys = dict(conn.execute("SELECT id, key FROM papers"))
    return [keys[i] for i in papers_matching(conn, cq)]


def find(conn, text: str, **kwargs) -> set[str]:
    return set(execute(conn, compile_query(text, **kwargs)))


# --- words, phrases and operators ------------------------------------------------

def test_plain_words_are_all_required(db):
    assert find(db, "pipeline speech") == {"data-pipeline"}


def test_stemming_is_left_to_fts5(db):
    assert find(db, "distillation") == find(db, "distilling") == {"kd", "distilling"}


def test_quoted_phrase_needs_adjacent_words(db):
    assert find(db, '"data mixture"') == {"domain-experts"}
    assert find(db, '"mixture data"') == set()


def test_quoted_phrase_is_compiled_as_one_fts5_phrase():
    assert fts(compile_query('"Exact Phrase"').match) == '"exact phrase"'


def test_or_finds_either_word(db):
    assert find(db, "gpipe OR cardinality") == {"gpipe", "by-moe"}


def test_explicit_and_is_the_same_as_juxtaposition(db):
    assert find(db, "pipeline AND speech") == find(db, "pipeline speech")


def test_minus_excludes_a_word(db):
    assert find(db, "pipeline -speech") == {"gpipe"}


def test_not_excludes_a_word(db):
    assert find(db, "pipeline NOT speech") == {"gpipe"}


def test_hyphen_inside_a_word_is_not_exclusion(db):
    assert fts(compile_query("self-attention").match) == '"self attention"'


def test_only_negative_words_become_a_where_predicate(db):
    cq = compile_query("-pipeline")
    assert cq.match is None and not cq.is_empty
    assert isinstance(cq.filter, Not) and isinstance(cq.filter.node, Matches)
    assert find(db, "-pipeline") == {k for k, *_ in PAPERS} - {"gpipe", "data-pipeline"}


def test_prefix_star_matches_word_starts(db):
    assert fts(compile_query("distil*").match) == '"distil" *'
    assert find(db, "distil*") == {"kd", "distilling"}


def test_wildcard_inside_a_word_becomes_its_prefix():
    assert fts(compile_query("distil*tion").match) == '"distil" *'


def test_parentheses_group_alternatives(db):
    assert find(db, "(gpipe OR speech) pipeline") == {"gpipe", "data-pipeline"}


def test_dangling_operators_are_ignored():
    assert compile_query("AND").is_empty
    assert fts(compile_query("pipeline OR").match) == '"pipeline"'


# --- fields ----------------------------------------------------------------------

def test_title_field_searches_titles_only(db):
    assert fts(compile_query("title:route").match) == 'title : "route"'
    assert find(db, "route") == {"sparse-moe", "moe-routing"}
    assert find(db, "title:route") == {"moe-routing"}


def test_abstract_field_searches_abstracts_only(db):
    assert find(db, "abstract:experts") == {"sparse-moe", "domain-experts"}


def test_author_field_searches_the_authors_column(db):
    assert fts(compile_query("author:knuth").match) == 'authors : "knuth"'
    assert find(db, 'author:"Donald Knuth"') == {"distilling"}


def test_field_followed_by_a_space_still_applies():
    assert fts(compile_query("title: experts").match) == 'title : "experts"'


def test_field_with_nothing_after_it_is_ignored():
    assert compile_query("title:").is_empty


def test_unknown_field_is_plain_text():
    cq = compile_query("foo:bar")
    assert fts(cq.match) == '"foo bar"' and cq.filter is None


def test_tag_field_filters_by_tag(db):
    cq = compile_query("tag:mixture-of-experts")
    assert cq.match is None and cq.tags == ("mixture-of-experts",)
    assert find(db, "tag:mixture-of-experts") == {"sparse-moe", "moe-routing"}


def test_category_tag_is_case_insensitive(db):
    assert find(db, "tag:cs.lg") == find(db, "tag:cs.LG") == {"sparse-moe", "gpipe", "kd"}


def test_tag_combines_with_words(db):
    assert find(db, "tag:cs.LG pipeline") == {"gpipe"}


def test_negated_tag_excludes_and_is_reported(db):
    cq = compile_query("-tag:cs.LG pipeline")
    assert cq.not_tags == ("cs.LG",) and cq.tags == ()
    assert find(db, "-tag:cs.LG pipeline") == find(db, "NOT tag:cs.LG pipeline") == {"data-pipeline"}


def test_tag_prefix_matches_a_family_of_tags(db):
    assert find(db, "tag:cs.*") == {"sparse-moe", "gpipe", "kd"}


def test_year_field_selects_one_year(db):
    assert compile_query("year:2024").filter == Years(2024, 2024)
    assert find(db, "year:2020") == {"distilling"}


def test_year_range_with_dots(db):
    assert find(db, "year:2019..2020") == {"gpipe", "distilling"}


def test_year_open_ranges(db):
    assert find(db, "year:2025..") == {"by-moe"}
    assert find(db, "year:..2019") == {"gpipe"}


def test_year_range_in_whoosh_syntax(db):
    assert find(db, "year:[2019 TO 2020]") == {"gpipe", "distilling"}
    assert find(db, "year:{2019 TO 2021]") == {"distilling", "kd"}


def test_year_range_with_a_hyphen_or_reversed(db):
    assert find(db, "year:2019-2020") == find(db, "year:2020..2019") == {"gpipe", "distilling"}


def test_repeated_condition_is_compiled_once():
    cq = compile_query("tag:cs.LG pipeline tag:cs.LG pipeline")
    assert fts(cq.match) == '"pipeline"' and cq.filter == Tag("cs.LG")


def test_year_comparison(db):
    assert find(db, "year:>2024") == {"by-moe"}


def test_malformed_year_is_plain_text():
    assert fts(compile_query("year:soon").match) == '"year soon"'


def test_id_field_finds_an_arxiv_id_with_or_without_version(db):
    assert find(db, "id:1811.06965") == find(db, "id:1811.06965v3") == {"gpipe"}
    assert find(db, "id:arXiv:1811.06965") == {"gpipe"}


def test_id_field_finds_a_public_key(db):
    assert find(db, "id:data-pipeline") == {"data-pipeline"}


def test_mixed_subtree_becomes_a_sql_predicate(db):
    cq = compile_query("(title:gpipe OR tag:mixture-of-experts) pipeline")
    assert fts(cq.match) == '"pipeline"' and isinstance(cq.filter, Or)
    assert cq.tags == ()  # not a top-level requirement
    assert find(db, "(title:gpipe OR tag:mixture-of-experts) pipeline") == {"gpipe"}


def test_or_with_an_exclusion_becomes_a_sql_predicate(db):
    assert find(db, "(speech OR -pipeline) year:2024") == \
        {"sparse-moe", "moe-routing", "data-pipeline", "punctuation", "accents"}


def test_default_columns_keep_words_out_of_other_columns(db):
    assert "by-moe" in find(db, "moe")
    assert "by-moe" not in find(db, "moe", default_columns=("title", "abstract"))


# --- tokens ------------------------------------------------------------------------

@pytest.mark.parametrize("text, match", [
    ("C++", '"c"'),
    ("FBK@IWSLT2021", '"fbk iwslt2021"'),
    ("GPU/TPUs", '"gpu tpus"'),
    ("naïve Über", '"naïve" AND "über"'),
])
def test_tokens_are_split_like_unicode61(text, match):
    assert fts(compile_query(text, synonyms=False).match) == match


def test_punctuated_tokens_find_the_paper(db):
    for text in ("C++", "FBK@IWSLT2021", "GPU/TPUs"):
        assert find(db, text) == {"punctuation"}


def test_diacritics_are_folded_by_fts5(db):
    assert find(db, "naive") == find(db, "naïve") == {"accents"}


def test_terms_are_lowercased_and_unstemmed():
    assert compile_query('Distilling "Pipeline Stages" -speech').terms == (
        "distilling", "pipeline stages")


def test_token_that_yields_nothing_is_dropped():
    assert fts(compile_query("pipeline ★ --").match) == '"pipeline"'


def test_fts_tokens_keep_non_ascii_letters():
    assert fts_tokens("日本語 Straße-Ω") == ["日本語", "straße", "ω"]


# --- synonyms ----------------------------------------------------------------------

def test_mixture_of_experts_spellings_find_the_same_papers(db):
    found = find(db, "mixture-of-experts")
    assert found == find(db, "mixture of experts") == find(db, "MoE")
    assert {"sparse-moe", "moe-routing", "moe-phrase"} <= found
    assert "domain-experts" not in found


def test_expansion_is_recorded():
    assert compile_query("MoE routing").expansions == (("moe", "mixture of experts"),)


def test_plural_form_triggers_the_expansion():
    assert compile_query("LLMs").expansions == (("llms", "large language model"),)


def test_quoted_phrase_is_never_expanded():
    cq = compile_query('"mixture of experts"')
    assert fts(cq.match) == '"mixture of experts"' and cq.expansions == ()


def test_expansion_respects_the_field():
    assert fts(compile_query("title:moe").match) == '(title : "moe" OR title : "mixture of experts")'


def test_synonyms_can_be_turned_off():
    cq = compile_query("moe", synonyms=False)
    assert fts(cq.match) == '"moe"' and cq.expansions == ()


def test_ambiguous_abbreviation_expands_only_when_typed():
    assert compile_query("pp").expansions == (("pp", "pipeline parallelism"),)
    assert compile_query("pipeline parallelism").expansions == ()


# --- loosen ------------------------------------------------------------------------

def test_loosen_turns_the_top_level_and_into_or(db):
    strict = compile_query("gpipe cardinality")
    assert execute(db, strict) == []
    assert set(execute(db, loosen(strict))) == {"gpipe", "by-moe"}


def test_loosen_keeps_filters_and_exclusions(db):
    loose = loosen(compile_query("pipeline experts -speech year:2019..2022"))
    assert set(execute(db, loose)) == {"gpipe", "domain-experts"}


def test_loosen_of_a_single_term_is_none():
    assert loosen(compile_query("pipeline")) is None
    assert loosen(compile_query("tag:cs.LG")) is None
    assert loosen(compile_query("")) is None


# --- empty, capped and hostile input -----------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "*", "AND OR NOT", "()", '""', "★ ☆"])
def test_blank_or_noise_query_is_empty(text):
    cq = compile_query(text)
    assert cq.is_empty and cq.match is None and cq.filter is None


def test_query_is_capped_before_parsing():
    cq = compile_query("word " * 1000)
    assert len(cq.text) <= MAX_QUERY_CHARS


def test_control_characters_are_cleaned_from_the_text():
    assert compile_query("gpipe\x00\x07 pipeline").text == "gpipe pipeline"


HOSTILE = [
    '"unbalanced', 'a "b c', '"""', "AND", "OR", "NOT", "NOT NOT a", "a AND", "OR b", "*", "**",
    "title:", "title:*", "title:(", "C++", "FBK@IWSLT2021", "GPU/TPUs", "🤖🔥 emoji", "\x00",
    "a\x00b", "\x1b[31mred", "'; DROP TABLE papers; --", "NEAR(a b)", 'NEAR("a" "b", 2)', "^foo",
    "a:b:c", "foo:bar", "{title}: x", "title : x", "a + b", "a - b", "--", "- -", "-", "(-)",
    "x" * 10_000, "(" * 300 + "a" + ")" * 300, "(a OR (b (c OR (d (e OR (f (g OR h)))))))",
    "a OR " * 120, "[a TO b]", "year:[x TO y]", "year:9999999999", "id:", 'id:"a b"',
    "tag:", "tag:*", 'tag:"x y"', "a^2 b~3", "\\", "\\\"", "`", "'", "''", "a'b", "ß ǅ ﬁ",
    "\u200b\u200d", "\ufeffbom", "\U0001f600" * 300, "Ω" * 600, "AND(", "-(a OR b)",
    "(title:foo OR tag:bar) -(baz OR year:2020)", "*:*", "?", "a?b", ":", ": :", "x:", "ANDNOT a",
    "a ANDMAYBE b", "a ANDNOT", "NOT (a)", "NOT tag:x", "NOT year:2020", "-year:2020",
    "\ud800 lone surrogate", "title:(NOT a)", "-(-a)", "NOT -a", "(a -b) OR (c -d)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_compiles_to_valid_fts5(db, text):
    execute(db, compile_query(text))  # raises if the MATCH or the SQL is invalid
    loose = loosen(compile_query(text))
    if loose is not None:
        execute(db, loose)


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80) | st.text(alphabet='ab ()"*:-+^~?ANDORT\\', max_size=60))
def test_any_text_compiles_to_valid_fts5(db, text):
    cq = compile_query(text)
    execute(db, cq)
    if (loose := loosen(cq)) is not None:
        execute(db, loose)


def test_a_prefix_shorter_than_three_letters_is_searched_as_the_word():
    assert fts(compile_query("a*").match) == '"a"'
    assert fts(compile_query("title:tr*").match) == 'title : "tr"'
    assert fts(compile_query("dis*").match) == '"dis" *'


# --- publication dates -------------------------------------------------------------------------

from datetime import date as _date  # noqa: E402

from app.plan import Published  # noqa: E402


@pytest.mark.parametrize("text, start, end", [
    ("published:2026-01..2026-03", _date(2026, 1, 1), _date(2026, 3, 31)),
    ("published:2026-02", _date(2026, 2, 1), _date(2026, 2, 28)),
    ("published:2024-02", _date(2024, 2, 1), _date(2024, 2, 29)),
    ("published:2026-03-05", _date(2026, 3, 5), _date(2026, 3, 5)),
    ("published:2025", _date(2025, 1, 1), _date(2025, 12, 31)),
    ("published:2026-02..", _date(2026, 2, 1), None),
    ("published:..2025-12", None, _date(2025, 12, 31)),
    ("published:2026-03..2026-01", _date(2026, 1, 1), _date(2026, 3, 31)),
    ("published:>=2026-02-10", _date(2026, 2, 10), None),
    ("published:>2026-02", _date(2026, 3, 1), None),
    ("published:<2026-02", None, _date(2026, 1, 31)),
    ("published: 2026-01", _date(2026, 1, 1), _date(2026, 1, 31)),
])
def test_published_ranges_compile_to_a_date_filter(text, start, end):
    compiled = compile_query(text)
    assert compiled.match is None
    assert compiled.filter == Published(start, end)


@pytest.mark.parametrize("text", ["published:yesterday", "published:2026-13", "published:2026-02-30"])
def test_a_published_value_that_is_no_date_is_searched_as_words(text):
    compiled = compile_query(text)
    assert compiled.filter is None
    assert compiled.match is not None


def test_published_combines_with_words_and_not():
    compiled = compile_query("distillation -published:2026-01")
    assert compiled.match is not None
    assert "Published" in repr(compiled.filter) and "Not" in repr(compiled.filter)


# --- the cost model (issue 16): bounded before any work -----------------------------------

@pytest.mark.parametrize("operator", ["ANDNOT", "ANDMAYBE", "REQUIRE"])
def test_a_chain_of_binary_operators_compiles_in_linear_time(operator):
    # whoosh built each side of these twice: 22 of them took 20 seconds to parse (CPU time is
    # measured: the work done, whatever else the machine runs).
    started = time.process_time()
    compiled = compile_query(f"a {operator} " * 22 + "b")
    assert time.process_time() - started < 0.5
    assert compiled.refused is None


def test_binary_operators_keep_their_meaning(db):
    assert find(db, "experts ANDNOT routing") == find(db, "experts -routing")
    assert find(db, "experts ANDMAYBE routing") == find(db, "experts")
    assert find(db, "experts REQUIRE routing") == find(db, "experts routing")


# Words of papers other than the three on experts, but "annotation" (domain-experts).
FILLERS = ["teacher", "pipeline", "speech", "corpora", "databases", "annotation", "student", "crawling",
           "audio", "gpu", "balancing", "smaller", "networks", "cardinality", "diacritics", "translation",
           "distilling", "flow", "micro", "giant", "folded", "estimation", "stages"]


@pytest.mark.parametrize("operator", ["ANDNOT", "REQUIRE"])
def test_a_long_chain_of_binary_operators_keeps_its_meaning(db, operator):
    # 11 or more used to nest past the bound and fall back to plain words, operators dropped:
    # "experts ANDNOT x ANDNOT y ..." then required x and y instead of excluding them.
    words = FILLERS[:11]
    chain = f" {operator} ".join(["experts", *words])
    spelled = "experts " + " ".join(("-" if operator == "ANDNOT" else "") + w for w in words)
    assert compile_query(chain).refused is None
    assert find(db, chain) == find(db, spelled)
    assert operator != "ANDNOT" or find(db, chain) == {"sparse-moe", "moe-phrase"}


def test_a_chain_of_binary_operators_is_honoured_up_to_the_operator_bound(db):
    chain = " ANDNOT ".join(["experts", *FILLERS, "domain"])
    compiled = compile_query(chain)
    assert compiled.refused is None and len(compiled.excluded) == 24
    assert find(db, chain) == {"sparse-moe", "moe-phrase"}
    assert compile_query(chain + " ANDNOT label").refused.limit == "max_operators"


@pytest.mark.parametrize("query", ["(" * 13 + "experts OR routing" + ")" * 13,
                                   "NOT (" * 7 + "experts" + ")" * 7, "-(" * 7 + "experts" + ")" * 7])
def test_a_query_nested_past_the_bound_is_refused_not_read_as_other_words(query):
    compiled = compile_query(query)
    assert compiled.refused is not None and compiled.refused.limit == "max_nesting"
    assert "at most 12" in compiled.refused.message
    assert compile_query("(((experts OR routing) -scale) OR teacher) NOT (student (gpu OR audio))").refused is None


def test_a_query_with_too_many_operators_is_refused_before_parsing():
    compiled = compile_query("a ANDNOT " * 40 + "b")
    assert compiled.refused is not None and compiled.refused.limit == "max_operators"
    assert compiled.match is None and compiled.filter is None and not compiled.is_empty
    assert "at most 24" in compiled.refused.message


@pytest.mark.parametrize("query, limit", [
    (" OR ".join(f"w{i}" for i in range(25)), "max_alternatives"),
    (" ".join(f"pre{i}x*" for i in range(9)), "max_prefixes"),
    (" ".join(f"(w{i} OR tag:z{i})" for i in range(9)), "max_text_filters"),
    (" ".join(f"tag:{c}*" for c in "abcde"), "max_tag_prefixes"),
    (" ".join(f"w{i}" for i in range(70)), "max_leaves"),
])
def test_a_query_past_a_plan_bound_is_refused_naming_it(query, limit):
    compiled = compile_query(query)
    assert compiled.refused is not None and compiled.refused.limit == limit


def test_queries_people_write_are_within_every_bound():
    for q in ["mixture of experts", "title:survey (graph OR molecule) -tag:cs.CV year:2024..2026",
              "transform* attention", "\"large language model\" agent* OR tool*", "id:2401.04088"]:
        assert compile_query(q).refused is None, q


@pytest.mark.parametrize("query", ["year:[0 TO 99999999999999999999] OR tag:moe",
                                   "-year:>=9223372036854775808", "year:<" + "9" * 5000,
                                   "year:>=-5", "year:[99999999999999999999 TO 0]"])
def test_every_number_in_a_query_is_brought_into_range(db, query):
    compiled = compile_query(query)
    years = [n for n in _walk(compiled.filter) if isinstance(n, Years)]
    assert all(y is None or 0 <= y <= 10_001 for n in years for y in (n.start, n.end))
    execute(db, compiled)  # SQLite takes every bound: no OverflowError


def test_a_year_range_past_the_last_year_is_every_year_from_the_first(db):
    assert find(db, "year:[0 TO 99999999999999999999]") == find(db, "year:1000..9999")
    assert find(db, "-year:>=9223372036854775808") == find(db, "year:1000..9999")


def _walk(node):
    if node is None:
        return
    yield node
    for child in (getattr(node, "nodes", None) or ((node.node,) if isinstance(node, Not) else ())):
        yield from _walk(child)


@pytest.mark.parametrize("text, years", [
    ("year:1..2026", Years(1, 2026)), ("year:0..2026", Years(0, 2026)), ("year:100..2026", Years(100, 2026)),
    ("year:2026..1", Years(1, 2026)), ("year:2024-2026", Years(2024, 2026)), ("year:20", Years(20, 20)),
])
def test_year_bounds_of_any_length_are_years(text, years):
    assert compile_query(text).filter == years


def test_a_year_and_a_month_with_a_dash_is_no_range_of_years():
    assert compile_query("year:2024-03").filter is None
