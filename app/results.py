"""The search's view and result types: the ground floor every layer imports.

`SearchParams` is a view (every state is a URL); `SearchResult` is what one view
shows. The search fills them, every renderer (HTML, htmx fragment, JSON, Atom,
BibTeX) reads them. Deep-immutable, so one cached result is shared by every thread
and renderer: frozen dataclasses whose sequences are tuples and whose maps are
read-only (`MappingProxyType`), converted on construction whatever a builder passed.
`SearchParams` checks its values on construction: out of range raises ValueError
(the HTTP edge, app/web/params.py, answers 422 before it gets there).

This module imports nothing from the app.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from urllib.parse import urlencode

from markupsafe import Markup

# "trending": most upvoted first (where the source gives upvotes), ties and the rest newest first
SORTS = ("relevance", "newest", "oldest", "title", "trending")
MAX_PER_PAGE = 100
PER_PAGE = 20     # the default page size; a URL leaves it out
MAX_PAGE = 10_000  # deepest page any view may ask for (web and API alike)


def _set(obj, **values) -> None:
    """Assign fields of a frozen dataclass while it is being constructed."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class SearchParams:
    """Everything that defines a view; every state is a URL (see query_string)."""
    q: str = ""
    tags: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    sort: str | None = None      # None: relevance with a query, newest without
    page: int = 1
    per_page: int = PER_PAGE
    since: date | None = None    # published on or after (URL `from`)
    until: date | None = None    # published on or before (URL `to`)
    author: str | None = None    # an author's slug: only their papers
    as_typed: bool = False       # search the words as typed, never a spelling correction of them
    # A live request while the user types (never in a URL): the last word is a prefix.
    typing: bool = False

    def __post_init__(self):
        # Hashable (a cache key) and immutable whatever sequence a caller passed.
        _set(self, tags=tuple(self.tags), not_tags=tuple(self.not_tags), years=tuple(self.years))
        if self.sort is not None and self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)} (or None), not {self.sort!r}")
        for name, value, highest in (("page", self.page, MAX_PAGE), ("per_page", self.per_page, MAX_PER_PAGE)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
                raise ValueError(f"{name} must be an integer from 1 to {highest}, not {value!r}")

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
        if p.since:
            pairs.append(("from", p.since.isoformat()))
        if p.until:
            pairs.append(("to", p.until.isoformat()))
        if p.author:
            pairs.append(("author", p.author))
        if p.sort:
            pairs.append(("sort", p.sort))
        if p.page != 1:
            pairs.append(("page", str(p.page)))
        if p.per_page != PER_PAGE:
            pairs.append(("per_page", str(p.per_page)))
        if p.as_typed:
            pairs.append(("as_typed", "1"))
        return urlencode(pairs)

    def toggle_tag(self, slug: str) -> "SearchParams":
        """Select a tag, or unselect it when selected (an exclusion is lifted either way)."""
        tags = tuple(t for t in self.tags if t != slug) if slug in self.tags else (*self.tags, slug)
        return replace(self, tags=tags, not_tags=tuple(t for t in self.not_tags if t != slug), page=1)

    def toggle_exclusion(self, slug: str) -> "SearchParams":
        not_tags = (tuple(t for t in self.not_tags if t != slug) if slug in self.not_tags
                    else (*self.not_tags, slug))
        return replace(self, not_tags=not_tags, tags=tuple(t for t in self.tags if t != slug), page=1)

    def published_in(self, since: date | None, until: date | None) -> "SearchParams":
        """The view limited to a publication period (both None: any date)."""
        return replace(self, since=since, until=until, page=1)

    def toggle_year(self, year: int) -> "SearchParams":
        years = tuple(y for y in self.years if y != year) if year in self.years else (*self.years, year)
        return replace(self, years=years, page=1)


@dataclass(frozen=True)
class TagRef:
    slug: str
    name: str
    kind: str   # "topic" or "category"


@dataclass(frozen=True)
class Hit:
    id: int                      # internal row id
    key: str                     # public id: the permalink is /papers/{key}
    arxiv_id: str | None
    title: str
    abstract: str
    authors: tuple[str, ...]
    published: date | None
    url: str | None              # external link (arXiv abs page when known)
    tags: tuple[TagRef, ...]
    snippet: Markup              # abstract excerpt, escaped, matched terms in <mark>
    title_html: Markup           # title, escaped, matched terms in <mark>
    upvotes: int | None = None   # popularity where the source gives it (daily papers), else None
    # arXiv categories in the source's order, the primary one first (tags are sorted by name).
    categories: tuple[str, ...] = ()

    def __post_init__(self):
        _set(self, authors=tuple(self.authors), tags=tuple(self.tags), categories=tuple(self.categories))


@dataclass(frozen=True)
class FacetValue:
    value: str                   # tag slug, or the year as text
    label: str                   # readable name
    kind: str                    # "topic", "category" or "year"
    count: int
    selected: bool = False
    excluded: bool = False
    toggle: SearchParams | None = None    # the view with this value toggled
    exclude: SearchParams | None = None   # the view with this value excluded (tags only)


@dataclass(frozen=True)
class SearchResult:
    params: SearchParams
    total: int
    hits: tuple[Hit, ...]
    # "topic", "category", "date", "year" -> values, in that order
    facets: Mapping[str, tuple[FacetValue, ...]] = field(default_factory=dict)
    suggestion: str | None = None            # corrected query ("did you mean"), or None
    corrected_query: str | None = None       # the correction searched instead of the query, or None
    expansions: tuple[tuple[str, str], ...] = ()  # synonyms applied
    relaxed: bool = False                    # strict AND found little: ranked OR results shown
    elapsed_ms: float = 0.0
    facets_more: Mapping[str, int] = field(default_factory=dict)  # facet values left out, per group
    terms: tuple[str, ...] = ()              # words searched for (unstemmed)

    def __post_init__(self):
        _set(self, hits=tuple(self.hits),
             facets=MappingProxyType({kind: tuple(values) for kind, values in self.facets.items()}),
             expansions=tuple((typed, alternative) for typed, alternative in self.expansions),
             facets_more=MappingProxyType(dict(self.facets_more)), terms=tuple(self.terms))

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.params.per_page))

    @property
    def last_page(self) -> int:
        """The last page a link may name: past MAX_PAGE no view can be asked for."""
        return min(self.pages, MAX_PAGE)
