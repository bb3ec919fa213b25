"""One function answers every search: `run(params) -> SearchResult`.

The HTML page, the htmx fragment, the JSON API, the Atom feed and the BibTeX
export all render the SearchResult this returns (types in app/results.py). The
query is compiled to a typed plan (query.py); the in-memory catalogue evaluates
its filters on bitsets (catalogue.py); the engine (app/engine) finds and ranks
full-text matches and marks them; facets.py, hits.py and spelling.py fill in the rest.
"""

# --- the engine ----------------------------------------------------------------------
#
# Design, measured on the 165k-paper arXiv corpus (see bench/README.md):
#  * Sets, not SQL, for everything but scoring. Filters, facet counts and date sorts are
#    bitset operations on in-memory tag/year sets (bitsets.py, catalogue.py).
#  * Relevance is exact over every match, whatever the filters (ranking.py): a query's
#    BM25 is assembled from per-phrase contributions the engine computes once per word
#    and catalogue state (cached; the most frequent words at start-up), then the page is
#    a partial sort of the filtered papers, ties newest first.
#  * Correct, then search: a query that finds (almost) nothing whose spelling correction
#    finds clearly more shows the corrected results (`corrected_query`); `as_typed` forces
#    the words as typed.
#  * A plain query whose AND still finds too little is loosened the way mature engines do:
#    stopwords and words in most of the catalogue stop counting, most of the remaining
#    words are required (2 of 3, 3 of 5), the strict matches stay on top (`relaxed`).
#  * While typing (`typing`: the live request), the last word is a prefix ("mixt" finds
#    "mixture"), a fragment of one or two letters waits, and nothing is loosened or
#    corrected, so the count only falls as letters are added.

import re
from datetime import date
from time import perf_counter

from app.engine import get_engine
from app.paper_sets import connection
from app.plan import AnyOf, Text, Words, any_of
from app.results import FacetValue, Hit, SearchParams, SearchResult, TagRef
from app.search import bitsets, cost, facets, hits, ranking, spelling
from app.search.catalogue import Catalogue, catalogue
from app.search.query import MIN_PREFIX_CHARS, CompiledQuery, compile_query, fts_tokens, synonym_phrases

__all__ = ["FacetValue", "Hit", "SearchParams", "SearchResult", "TagRef", "run", "warm"]

WEIGHTS = ranking.WEIGHTS
RELAX_BELOW = 3          # a plain query's AND finding fewer results than this is loosened
CORRECT_BELOW = 20       # a query finding fewer is worth a corrected search ...
CORRECT_GAIN = 5         # ... shown when the correction finds this many times more
COMMON_SHARE = 0.5       # a word in more than this share of the catalogue does not count in a fallback
LOOSE_MAX_SHARE = 0.1    # a fallback answering more than this share requires more of the words
STOPWORDS = frozenset("""a an and are as at be by for from how in into is it of on or over the their
this to under using via what when which with without""".split())
_OPERATORS = re.compile(r'["():*]|(?:^|\s)-\S|\b(?:AND|OR|NOT)\b')
_TYPED_WORD = re.compile(r"(?:^|\s)([^\s\"():*\-][^\s\"():*]*)$")


def run(params: SearchParams, *, all_facets: bool = False) -> SearchResult:
    """The page of results, facets and hints for one view. Never raises on user input.

    A finished result is kept per catalogue (which is rebuilt whenever the database
    changes), so a view asked for again -- a popular query, the next visitor on the
    same link, the feed of a page just seen -- costs a dictionary lookup.
    """
    conn = connection()
    cat = catalogue(conn)
    # `all_facets`: every value of every facet group ("show all"), not the first FACET_LIMIT.
    key = (params, all_facets, date.today())  # "past week" moves with the day
    return cat.results.get_or(key, lambda: _run(params, conn, cat, all_facets))


def typed_so_far(text: str) -> str:
    """The query a live request searches: the word being typed is a prefix ("mixt" ->
    "mixt*"), or left out while shorter than a prefix may be ("mixture o" -> "mixture")."""
    if not text or text[-1].isspace() or text.count('"') % 2:
        return text
    m = _TYPED_WORD.search(text)
    if not m or not m.group(1).isalnum():
        return text
    word = m.group(1)
    head = text[:m.start(1)]
    if len(word) < MIN_PREFIX_CHARS:
        return head.rstrip()
    return head + word + "*"


def _run(params: SearchParams, conn, cat: Catalogue, all_facets: bool = False) -> SearchResult:
    started = perf_counter()
    search = _Search(conn, cat, params)
    if params.typing:  # a word being typed that stands for too many words waits for more letters
        try:
            compiled = search.bounded(compile_query(typed_so_far(params.q)))
        except cost.Refused:
            compiled = search.bounded(compile_query(params.q))
    else:
        compiled = search.bounded(compile_query(params.q))
    try:
        sets, scored = search.filter(compiled)
        used, pinned, relaxed, corrected = compiled, 0, False, None
        suggestion = spelling.suggest(conn, cat, compiled) if compiled.match else None
        found = sets.results.bit_count()
        # Checked only once the query is submitted: a search per keystroke would double the cost of
        # live results (p99 25 -> 110 ms on never-seen misspelt queries at 165k), which only offer it.
        if suggestion and not params.typing:
            better = compile_query(suggestion)
            better_sets, better_scored = search.filter(better) if search.within_bounds(better) else (None, None)
            gained = better_sets.results.bit_count() if better_sets else 0
            if not gained:  # each word may be right and no paper have them all: no help, not shown
                suggestion = None
            elif (not params.as_typed and found < CORRECT_BELOW
                  and gained > found and gained >= CORRECT_GAIN * found):
                used, sets, scored, corrected = better, better_sets, better_scored, suggestion
                found = gained
        # A query written with operators says exactly what it wants: loosened only when it finds nothing.
        if used.match and not params.typing and found < (RELAX_BELOW if _plain(used.text) else 1):
            loose = search.loosened(used, sets)
            if loose is not None:
                (sets, scored), pinned, relaxed = loose, sets.results, True
    except Exception as exc:
        if not search.engine.refuses(exc):
            raise
        # Rendering quotes every token; should the engine still refuse a query, that is no results.
        return SearchResult(params=params, total=0, hits=(), terms=compiled.terms)
    start, count = (params.page - 1) * params.per_page, params.per_page
    sort = params.effective_sort  # one of SORTS: SearchParams checks it
    if sort == "relevance" and scored is None:
        sort = "newest"
    if sort == "relevance":
        ids = ranking.page(cat, scored, sets.results, pinned, start, count)
    else:
        order = {"newest": cat.newest, "oldest": cat.oldest, "title": cat.by_title, "trending": cat.trending}[sort]
        ids = bitsets.in_order(order, sets.results, start, count, cat.size)
    groups, more = facets.compute(cat, params, sets, compiled.tags, compiled.not_tags,
                                  limit=None if all_facets else facets.FACET_LIMIT)
    # The words marked on the page: the loosened reading's when loosened.
    highlight = search.loose_text if relaxed else used.match
    if highlight is None:
        matches = None
    else:  # a loosened reading's chosen papers are scored already: no scoring of all its matches
        matches = scored.bits() if relaxed else search.bits(highlight)
    return SearchResult(
        params=params, total=sets.results.bit_count(), hits=hits.page(conn, ids, highlight, matches),
        facets=groups, suggestion=suggestion, corrected_query=corrected,
        expansions=used.expansions, relaxed=relaxed,
        facets_more=more, terms=used.terms, elapsed_ms=(perf_counter() - started) * 1000)


def warm(background: bool = True) -> None:
    """Build what the first search would otherwise wait for: the in-memory catalogue and
    the spelling vocabularies of words and of author names (about two seconds on 165k papers),
    then the BM25 contributions of
    the most frequent words (ranking.warm; in a background thread unless told otherwise,
    tens of seconds on 165k papers while searches are already answered). Worth calling at
    server start."""
    conn = connection()
    cat = catalogue(conn)
    spelling.correct(conn, cat, "warm")
    spelling.correct(conn, cat, "warm", authors=True)
    if not get_engine(conn).warm_terms:
        return
    words = spelling.frequent_words(conn, cat, ranking.WARM_WORDS)
    phrases = synonym_phrases()
    if background:
        ranking.warm_in_background(connection, cat, words, phrases)
    else:
        ranking.warm(conn, cat, words, phrases)


def _plain(text: str) -> bool:
    """Just words: no operators, quotes, fields or groups, which say exactly what is wanted."""
    return not _OPERATORS.search(text)


class _Search:
    """One search's use of the engine and the catalogue (a connection, the sets cached per catalogue)."""

    def __init__(self, conn, cat: Catalogue, params: SearchParams):
        self.conn, self.cat, self.params, self.engine = conn, cat, params, get_engine(conn)
        self.loose_text: Text | None = None   # the words of the last loosened reading

    def bounded(self, compiled: CompiledQuery) -> CompiledQuery:
        """The query, if within the cost model (app/search/cost.py); raises cost.Refused if not."""
        if compiled.refused is not None:
            raise cost.Refused(compiled.refused.limit, compiled.refused.message)
        cost.check(self.conn, self.cat, self.engine, cost.all_text(compiled.match, compiled.filter),
                   lambda words: ranking.known(self.cat, words))
        return compiled

    def within_bounds(self, compiled: CompiledQuery) -> bool:
        try:
            self.bounded(compiled)
        except cost.Refused:
            return False
        return True

    def filter(self, compiled: CompiledQuery) -> tuple[facets.Sets, ranking.Scored | None]:
        """The result set and its facet variants; and the scored full-text matches (None: no text)."""
        if compiled.match is None:
            return self._sets(compiled, self.cat.universe), None
        scored = ranking.score(self.conn, self.cat, compiled.match)
        return self._sets(compiled, self.bits(compiled.match) & self.cat.universe), scored

    def bits(self, text: Text) -> int:
        """The papers matching a text tree, as a bitset (cached per catalogue)."""
        return self.cat.matches.get_or(("scored", self.engine.render(text)),
                                       lambda: ranking.score(self.conn, self.cat, text).bits())

    def loosened(self, compiled: CompiledQuery, strict: facets.Sets):
        """The minimum-should-match reading of a query that found too little, or None.

        Stopwords and words found in most of the catalogue do not count; most of the rest
        must occur (2 of 3, 3 of 5), and more of them while that would still answer a large
        share of the catalogue. Synonyms and phrases count as one part; if that finds no
        more than the strict query, the words are taken one by one.
        """
        found = strict.results.bit_count()
        readings = [compiled.parts]
        if _plain(compiled.text):  # a phrase in quotes stays a phrase
            words = compile_query(" ".join(fts_tokens(compiled.text)), synonyms=False)
            if words.match is not None and words.parts != compiled.parts:
                readings.append(words.parts)
        for parts in readings:
            result = self._at_least(compiled, parts)
            if result is not None and result[0].results.bit_count() > found:
                return result
        return None

    def _at_least(self, compiled: CompiledQuery, parts: tuple[Text, ...]):
        cat, conn = self.cat, self.conn
        meaningful = [p for p in parts if not (isinstance(p, Words) and len(p.tokens) == 1
                                               and p.tokens[0] in STOPWORDS)]
        counted = [p for p in meaningful
                   if ranking.matches(conn, cat, p).sum() <= COMMON_SHARE * cat.total]
        if len(meaningful) < 1 or len(counted) < 1 or len(parts) < 2:
            return None
        need = ranking.required(len(counted))
        excluded = ranking.matches(conn, cat, any_of(compiled.excluded)) if compiled.excluded else None
        while True:  # match sets first (cheap); BM25 only for the papers finally chosen
            match = ranking.at_least(conn, cat, counted, need, excluded)
            if need >= len(counted) or match.sum() <= LOOSE_MAX_SHARE * cat.total:
                break
            need += 1
        self.loose_text = meaningful[0] if len(meaningful) == 1 else AnyOf(tuple(meaningful))
        scored = ranking.score_within(conn, cat, self.loose_text, match)
        return self._sets(compiled, scored.bits() & cat.universe), scored

    def _sets(self, compiled: CompiledQuery, matches: int) -> facets.Sets:
        """The result set and its facet variants, given the full-text matches."""
        cat, params = self.cat, self.params
        core = matches
        if compiled.filter is not None:
            core &= cat.evaluate(self.conn, self.engine, compiled.filter)
        for slug in params.tags:
            tag = cat.tag(slug)
            core &= tag.bits if tag else 0
        if params.author:
            core &= cat.author_papers(self.conn, params.author)
        # Years and a publication period are the date facet: counted as if none were chosen.
        in_years = cat.universe
        if params.years:
            in_years = 0
            for year in params.years:
                in_years |= cat.years.get(year, 0)
        if params.since or params.until:
            in_years &= cat.published_between(params.since, params.until)
        hidden = {tag.slug: tag.bits for slug in params.not_tags if (tag := cat.tag(slug))}
        masks = list(hidden.values())
        # OR of the exclusions before and after each one: every "all but this one" in O(n).
        before, after = [0], [0]
        for bits in masks:
            before.append(before[-1] | bits)
        for bits in reversed(masks):
            after.append(after[-1] | bits)
        after.reverse()
        all_hidden = before[-1]
        results = core & in_years & ~all_hidden
        without_exclusion = {slug: core & in_years & ~(before[i] | after[i + 1])
                             for i, slug in enumerate(hidden)}
        return facets.Sets(results, core & ~all_hidden, without_exclusion, core & in_years)
