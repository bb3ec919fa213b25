"""One function answers every search: `run(params) -> SearchResult`.

The HTML page, the htmx fragment, the JSON API, the Atom feed and the BibTeX
export all render the SearchResult this module returns; nothing else builds
FTS SQL.
"""

from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from markupsafe import Markup

SORTS = ("relevance", "newest", "oldest", "title")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class SearchParams:
    """Everything that defines a view; every state is a URL (see query_string)."""
    q: str = ""
    tags: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    sort: str | None = None      # None: relevance with a query, newest without
    page: int = 1
    per_page: int = 20

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q.strip() else "newest")

    def query_string(self, **overrides) -> str:
        """The URL query string of this view (defaults left out, so URLs stay short)."""
        p = replace(self, **overrides) if overrides else self
        pairs: list[tuple[str, str]] = []
        if p.q:
            pairs.append(("q", p.q))
        pairs += [("tag", t) for t in p.tags]
        pairs += [("not_tag", t) for t in p.not_tags]
        pairs += [("year", str(y)) for y in p.years]
        if p.sort:
            pairs.append(("sort", p.sort))
        if p.page != 1:
            pairs.append(("page", str(p.page)))
        if p.per_page != 20:
            pairs.append(("per_page", str(p.per_page)))
        return urlencode(pairs)

    def toggle_tag(self, slug: str) -> "SearchParams":
        """Select a tag, or unselect it when selected (an exclusion is lifted either way)."""
        tags = tuple(t for t in self.tags if t != slug) if slug in self.tags else (*self.tags, slug)
        return replace(self, tags=tags, not_tags=tuple(t for t in self.not_tags if t != slug), page=1)

    def toggle_exclusion(self, slug: str) -> "SearchParams":
        not_tags = (tuple(t for t in self.not_tags if t != slug) if slug in self.not_tags
                    else (*self.not_tags, slug))
        return replace(self, not_tags=not_tags, tags=tuple(t for t in self.tags if t != slug), page=1)

    def toggle_year(self, year: int) -> "SearchParams":
        years = tuple(y for y in self.years if y != year) if year in self.years else (*self.years, year)
        return replace(self, years=years, page=1)


@dataclass(frozen=True)
class TagRef:
    slug: str
    name: str
    kind: str   # "topic" or "category"


@dataclass
class Hit:
    id: int                      # internal row id
    key: str                     # public id: the permalink is /papers/{key}
    arxiv_id: str | None
    title: str
    abstract: str
    authors: list[str]
    published: date | None
    url: str | None              # external link (arXiv abs page when known)
    tags: list[TagRef]
    snippet: Markup              # abstract excerpt, escaped, matched terms in <mark>
    title_html: Markup           # title, escaped, matched terms in <mark>


@dataclass
class FacetValue:
    value: str                   # tag slug, or the year as text
    label: str                   # readable name
    kind: str                    # "topic", "category" or "year"
    count: int
    selected: bool = False
    excluded: bool = False
    toggle: SearchParams | None = None    # the view with this value toggled
    exclude: SearchParams | None = None   # the view with this value excluded (tags only)


@dataclass
class SearchResult:
    params: SearchParams
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)  # "topic", "category", "year"
    total_is_estimate: bool = False
    suggestion: str | None = None            # corrected query ("did you mean"), or None
    expansions: list[tuple[str, str]] = field(default_factory=list)  # synonyms applied
    relaxed: bool = False                    # strict AND found little: ranked OR results shown
    elapsed_ms: float = 0.0
    # Relevance order covers the first `ranked_within` results (the most recently added
    # matches of a very broad query); the rest follow newest first. None: all ranked.
    ranked_within: int | None = None
    facets_more: dict[str, int] = field(default_factory=dict)  # facet values left out, per group
    terms: list[str] = field(default_factory=list)             # words searched for (unstemmed)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.params.per_page))


# --- the engine ----------------------------------------------------------------------
#
# Design, measured on the 165k-paper arXiv corpus (see bench/README.md):
#  * Sets, not SQL, for everything but ranking. The FTS5 match set is fetched once
#    (group_concat + orjson), then filters, facet counts and date sorts are bitset
#    operations on in-memory tag/year sets (app/bitsets.py, app/predicates.py).
#  * BM25 with column weights is the costly part (~1.5 µs a row, plus one pass over
#    each term's postings for its IDF): ranking all 128k matches of "model" takes
#    ~140 ms. So at most RANK_LIMIT (1000) matches are ranked: all of them when the result
#    set is smaller, else the most recently added ones (the top of the rowid range,
#    which FTS5 can seek to). The rest follow newest first, and `ranked_within` says
#    where relevance order ends. Totals and facet counts stay exact.
#  * A strict AND of plain words that finds fewer than RELAX_BELOW papers is retried
#    as a ranked OR of its top-level parts (`relaxed`), with the strict matches kept
#    on top. A query written with operators is loosened only when it finds nothing.

import re  # noqa: E402
from time import perf_counter  # noqa: E402

import orjson  # noqa: E402

from app import bitsets, facets, hits, predicates, spelling  # noqa: E402
from app.db import reader, sqlite3  # noqa: E402
from app.query import CompiledQuery, compile_query, fts_tokens, loosen  # noqa: E402
from app.settings import get_settings  # noqa: E402

WEIGHTS = (5.0, 1.0, 2.0)  # title, abstract, authors: nDCG is flat for title weights 4-10
RANK_LIMIT = 1000
RELAX_BELOW = 3
_OPERATORS = re.compile(r'["():*]|(?:^|\s)-\S|\b(?:AND|OR|NOT)\b')
_MATCH_IDS = "SELECT group_concat(rowid) FROM papers_fts WHERE papers_fts MATCH ?"


def run(params: SearchParams) -> SearchResult:
    """The page of results, facets and hints for one view. Never raises on user input.

    A finished result is kept per catalogue (which is rebuilt whenever the database
    changes), so a view asked for again -- a popular query, the next visitor on the
    same link, the feed of a page just seen -- costs a dictionary lookup.
    """
    params = _sane(params)
    conn = reader()
    cat = bitsets.catalogue(conn, get_settings().database_path)
    return cat.results.get_or(params, lambda: _run(params, conn, cat))


def _run(params: SearchParams, conn, cat: bitsets.Catalogue) -> SearchResult:
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
    except sqlite3.OperationalError as exc:
        if not _is_fts_error(exc):
            raise
        # compile_query promises valid FTS5; should one still be refused, that is no results.
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
    spelling.correct(conn, bitsets.catalogue(conn, get_settings().database_path), "warm")


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


def _is_fts_error(exc: Exception) -> bool:
    return "fts5" in str(exc).lower() or "malformed match" in str(exc).lower()


class _Engine:
    def __init__(self, conn, cat: bitsets.Catalogue):
        self.conn, self.cat = conn, cat

    def match_bits(self, expr: str) -> int:
        return self.cat.matches.get_or(expr, lambda: self.cat.fetch(self.conn, _MATCH_IDS, (expr,)))

    def filter(self, compiled: CompiledQuery, match: str | None,
               params: SearchParams) -> tuple[facets.Sets, int]:
        """The result set and its facet variants; and the bare full-text match set."""
        cat = self.cat
        matches = self.match_bits(match) & cat.universe if match else cat.universe
        core = matches
        if compiled.where:
            core &= predicates.evaluate(cat, self.conn, compiled.where, compiled.params, self.match_bits)
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

    def ranked(self, match: str, results: int, matches: int, pinned: int,
               start: int, count: int) -> tuple[list[int], int | None]:
        """A page in relevance order, and where that order ends if not all results are ranked."""
        cat = self.cat
        window = bitsets.top(results, RANK_LIMIT) | pinned
        if not window:
            return [], None
        # Keyed by the sets themselves (hashing a 165k-bit int takes microseconds):
        # the next page of the same view reuses the ranking.
        ordered = cat.rankings.get_or((match, WEIGHTS, window, pinned),
                                      lambda: self._rank(match, window, matches, pinned))
        ids = ordered[start:start + count]
        if len(ids) < count:
            ids += bitsets.in_order(cat.newest, results & ~window, max(0, start - len(ordered)),
                                    count - len(ids), cat.size)
        return ids, (None if window == results else len(ordered))

    def _rank(self, match: str, window: int, matches: int, pinned: int) -> list[int]:
        """The window's papers by BM25 (strict matches of a loosened query first), ties newest first."""
        low = (window & -window).bit_length() - 1
        sql = (f"SELECT rowid, bm25(papers_fts, {', '.join(map(str, WEIGHTS))}) FROM papers_fts"
               " WHERE papers_fts MATCH ? AND rowid >= ?")
        args: list = [match, low]
        if (matches >> low) != (window >> low):  # filters apply: rank only the window's papers
            sql += " AND +rowid IN (SELECT value FROM json_each(?))"
            args.append(orjson.dumps(bitsets.members(window)).decode())
        cursor = self.conn.cursor()
        cursor.row_factory = None
        scored = cursor.execute(sql, args).fetchall()
        pin = set(bitsets.members(pinned)) if pinned else set()
        rank = self.cat.date_rank
        scored.sort(key=lambda r: (r[0] not in pin, r[1], rank[r[0]] if r[0] < len(rank) else 0))
        return [r[0] for r in scored]
