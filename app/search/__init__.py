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
#  * Sets, not SQL, for everything but ranking. The FTS5 match set is fetched once
#    (group_concat + orjson), then filters, facet counts and date sorts are bitset
#    operations on in-memory tag/year sets (bitsets.py, catalogue.py).
#  * BM25 with column weights is the costly part (~1.5 µs a row, plus one pass over
#    each term's postings for its IDF): ranking all 128k matches of "model" takes
#    ~140 ms. So at most RANK_LIMIT (1000) matches are ranked: all of them when the result
#    set is smaller, else the most recently added ones (the top of the rowid range,
#    which FTS5 can seek to). The rest follow newest first, and `ranked_within` says
#    where relevance order ends. Totals and facet counts stay exact.
#  * A strict AND of plain words that finds fewer than RELAX_BELOW papers is retried
#    as a ranked OR of its top-level parts (`relaxed`), with the strict matches kept
#    on top. A query written with operators is loosened only when it finds nothing.

import re
from dataclasses import replace
from time import perf_counter

from app.db import reader
from app.engine import get_engine
from app.plan import Text
from app.results import MAX_PER_PAGE, SORTS, FacetValue, Hit, SearchParams, SearchResult, TagRef
from app.search import bitsets, facets, hits, spelling
from app.search.catalogue import Catalogue, catalogue
from app.search.query import CompiledQuery, compile_query, fts_tokens, loosen

__all__ = ["FacetValue", "Hit", "SearchParams", "SearchResult", "TagRef", "run", "warm"]

WEIGHTS = (5.0, 1.0, 2.0)  # title, abstract, authors: nDCG is flat for title weights 4-10
RANK_LIMIT = 1000
RELAX_BELOW = 3
_OPERATORS = re.compile(r'["():*]|(?:^|\s)-\S|\b(?:AND|OR|NOT)\b')


def run(params: SearchParams) -> SearchResult:
    """The page of results, facets and hints for one view. Never raises on user input.

    A finished result is kept per catalogue (which is rebuilt whenever the database
    changes), so a view asked for again -- a popular query, the next visitor on the
    same link, the feed of a page just seen -- costs a dictionary lookup.
    """
    params = _sane(params)
    conn = reader()
    cat = catalogue(conn)
    return cat.results.get_or(params, lambda: _run(params, conn, cat))


def _run(params: SearchParams, conn, cat: Catalogue) -> SearchResult:
    started = perf_counter()
    compiled = compile_query(params.q)
    engine = _Engine(conn, cat)
    try:
        sets, matches = engine.filter(compiled, compiled.match, params)
        used, pinned, relaxed = compiled, 0, False
        plain = _plain(compiled.text)
        if compiled.match and sets.results.bit_count() < (RELAX_BELOW if plain else 1):
            for looser in _loosenings(compiled, plain):
                looser_sets, looser_matches = engine.filter(looser, looser.match, params)
                if looser_sets.results.bit_count() > sets.results.bit_count():
                    pinned, relaxed = sets.results, True
                    used, sets, matches = looser, looser_sets, looser_matches
                    break
    except Exception as exc:
        if not engine.engine.refuses(exc):
            raise
        # Rendering quotes every token; should the engine still refuse a query, that is no results.
        return SearchResult(params=params, total=0, hits=[], terms=list(compiled.terms))
    start, count = (params.page - 1) * params.per_page, params.per_page
    sort = params.effective_sort
    if sort not in SORTS or (sort == "relevance" and not used.match):
        sort = "newest"
    ranked_within = None
    if sort == "relevance":
        ids, ranked_within = engine.ranked(used.match, sets.results, matches, pinned, start, count)
    else:
        order = {"newest": cat.newest, "oldest": cat.oldest, "title": cat.by_title}[sort]
        ids = bitsets.in_order(order, sets.results, start, count, cat.size)
    groups, more = facets.compute(cat, params, sets, compiled.tags, compiled.not_tags)
    total = sets.results.bit_count()
    return SearchResult(
        params=params, total=total, hits=hits.page(conn, ids, used.match, matches), facets=groups,
        suggestion=spelling.suggest(conn, cat, compiled),
        expansions=list(used.expansions), relaxed=relaxed, ranked_within=ranked_within,
        facets_more=more, terms=list(compiled.terms), elapsed_ms=(perf_counter() - started) * 1000)


def warm() -> None:
    """Build what the first search would otherwise wait for: the in-memory catalogue and
    the spelling vocabulary (about a second on 165k papers). Worth calling at server start."""
    conn = reader()
    spelling.correct(conn, catalogue(conn), "warm")


def _sane(params: SearchParams) -> SearchParams:
    """Out-of-range values clamped: the API rejects them, other callers get the nearest view."""
    sort = params.sort if params.sort in SORTS else None
    page = max(1, int(params.page))
    per_page = min(MAX_PER_PAGE, max(1, int(params.per_page)))
    if (sort, page, per_page) == (params.sort, params.page, params.per_page):
        return params
    return replace(params, sort=sort, page=page, per_page=per_page)


def _loosenings(compiled: CompiledQuery, plain: bool):
    """Looser readings of a query that found too little, most faithful first.

    The ranked OR of its parts; then, for plain words, every word on its own (a
    synonym or a hyphenated word is otherwise one phrase: "parameter efficient
    fine-tuning" is rarely written exactly so) and, last, any of those words.
    """
    loose = loosen(compiled)
    if loose is not None and loose.match:
        yield loose
    if plain:
        words = compile_query(" ".join(fts_tokens(compiled.text)), synonyms=False)
        if words.match and words.match != compiled.match:
            yield words
            any_word = loosen(words)
            if any_word is not None and any_word.match and (loose is None or any_word.match != loose.match):
                yield any_word


def _plain(text: str) -> bool:
    """Just words: no operators, quotes, fields or groups, which say exactly what is wanted."""
    return not _OPERATORS.search(text)


class _Engine:
    """One search's use of the engine and the catalogue (a connection, the sets cached per catalogue)."""

    def __init__(self, conn, cat: Catalogue):
        self.conn, self.cat, self.engine = conn, cat, get_engine(conn)

    def match_bits(self, text: Text) -> int:
        return self.cat.match_bits(self.conn, self.engine, text)

    def filter(self, compiled: CompiledQuery, match: Text | None,
               params: SearchParams) -> tuple[facets.Sets, int]:
        """The result set and its facet variants; and the bare full-text match set."""
        cat = self.cat
        matches = self.match_bits(match) & cat.universe if match else cat.universe
        core = matches
        if compiled.filter is not None:
            core &= cat.evaluate(self.conn, self.engine, compiled.filter)
        for slug in params.tags:
            tag = cat.tag(slug)
            core &= tag.bits if tag else 0
        in_years = cat.universe
        if params.years:
            in_years = 0
            for year in params.years:
                in_years |= cat.years.get(year, 0)
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
        return facets.Sets(results, core & ~all_hidden, without_exclusion), matches

    def ranked(self, match: Text, results: int, matches: int, pinned: int,
               start: int, count: int) -> tuple[list[int], int | None]:
        """A page in relevance order, and where that order ends if not all results are ranked."""
        cat = self.cat
        window = bitsets.top(results, RANK_LIMIT) | pinned
        if not window:
            return [], None
        # Keyed by the sets themselves (hashing a 165k-bit int takes microseconds):
        # the next page of the same view reuses the ranking.
        ordered = cat.rankings.get_or((self.engine.render(match), WEIGHTS, window, pinned),
                                      lambda: self._rank(match, window, matches, pinned))
        ids = ordered[start:start + count]
        if len(ids) < count:
            ids += bitsets.in_order(cat.newest, results & ~window, max(0, start - len(ordered)),
                                    count - len(ids), cat.size)
        return ids, (None if window == results else len(ordered))

    def _rank(self, match: Text, window: int, matches: int, pinned: int) -> list[int]:
        """The window's papers by BM25 (strict matches of a loosened query first), ties newest first."""
        low = (window & -window).bit_length() - 1
        # Filters apply when the window is not all of the matches above its lowest id:
        # then only the window's papers are scored.
        candidates = bitsets.members(window) if (matches >> low) != (window >> low) else None
        scored = self.engine.rank(self.conn, match, WEIGHTS, candidates, low)
        pin = set(bitsets.members(pinned)) if pinned else set()
        rank = self.cat.date_rank
        scored.sort(key=lambda r: (r[0] not in pin, r[1], rank[r[0]] if r[0] < len(rank) else 0))
        return [r[0] for r in scored]
