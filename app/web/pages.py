"""HTML routes and htmx fragments: search, tags, paper permalinks, authors, feeds, site files.

A search or tag page is one template; an htmx request (HX-Request, and not a
history restore) gets its `results` block alone. Responses that can be either
say `Vary: HX-Request`, so no cache hands a fragment to a full navigation.
"""

from dataclasses import astuple, dataclass, replace
from functools import lru_cache
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit
from urllib.parse import quote as url_quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from app import feeds, kinds, papers, search
from app.ingest.records import author_slug
from app.related import related_papers
from app.db import reader
from app.results import MAX_PER_PAGE, PER_PAGE, SearchParams, SearchResult
from app.search import cost
from app.search.catalogue import Memo, catalogue
from app.settings import get_settings
from app.web.errors import PaperNotFound
from app.web.params import ViewParams
from app.web.render import VARY, base_url, common, templates, wants_fragment

# HTML pages stay out of the OpenAPI schema (that documents /api); HEAD is answered like GET
# because link checkers and unfurlers use it on shared permalinks.
router = APIRouter(include_in_schema=False)


def page(path: str, **kwargs):
    return router.api_route(path, methods=["GET", "HEAD"], **kwargs)


templates.env.filters["author_slug"] = author_slug  # the ingest's own rule, so row links need no query
templates.env.globals["highlight_terms"] = papers.highlight_terms
templates.env.globals["url_pairs"] = lambda url: parse_qsl(urlsplit(url).query)  # a URL's state as form fields
FEED_SIZE = 50
MAX_EXPORT = 1000
SITEMAP_SIZE = 50_000  # the sitemap protocol's limit of URLs per file
ATOM_TYPE = "application/atom+xml; charset=utf-8"
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"

def run_search(params: SearchParams) -> SearchResult:
    return search.run(params)


@dataclass(frozen=True)
class View:
    """Where a search view lives: `/`, a tag page or an author page, which keep their own tag or
    author out of the query string. Its URLs are pure functions of the view and the params, kept
    once built: a page links to dozens of views (every chip and facet value), and a cached result
    is shown again and again."""
    fixed_tag: str | None = None
    fixed_author: str | None = None

    def url(self, params: SearchParams, path: str = "") -> str:
        return _view_url(self, params, path)

    def tag_url(self, params: SearchParams, slug: str) -> str:
        """The view with one tag toggled (a row's tag chip)."""
        return _tag_url(self, params, slug)

    def facets_url(self, kind: str, params: SearchParams) -> str:
        """The whole of one facet group of this view ("show all")."""
        pairs = params.query_string(page=1, author=None)
        extra = "&".join(p for p in (f"within={url_quote(self.fixed_tag, safe='')}" if self.fixed_tag else "",
                                     f"by={url_quote(self.fixed_author, safe='')}" if self.fixed_author else "") if p)
        qs = "&".join(p for p in (pairs, extra) if p)
        return f"/facets/{kind}" + ("?" + qs if qs else "")

    def feed(self, params: SearchParams) -> str:
        return _export_url("feed.atom", params)

    def bibtex(self, params: SearchParams) -> str:
        return _export_url("export.bib", params)


@lru_cache(maxsize=16_384)
def _view_url(view: View, params: SearchParams, path: str) -> str:
    if view.fixed_author and params.author == view.fixed_author:
        base = f"/authors/{url_quote(view.fixed_author, safe='')}"
        qs = params.query_string(author=None)
    elif view.fixed_tag and view.fixed_tag in params.tags:
        base = f"/tags/{url_quote(view.fixed_tag, safe='')}"
        qs = params.query_string(tags=tuple(t for t in params.tags if t != view.fixed_tag))
    else:
        base, qs = "/", params.query_string()
    if path:
        base = base.rstrip("/") + "/" + path
    return base + ("?" + qs if qs else "")


@lru_cache(maxsize=16_384)
def _tag_url(view: View, params: SearchParams, slug: str) -> str:
    return _view_url(view, params.toggle_tag(slug), "")


def _export_url(name: str, params: SearchParams) -> str:
    qs = params.query_string(page=1, per_page=PER_PAGE, sort=None)
    return f"/{name}" + ("?" + qs if qs else "")


# A view of a cached result is the same text for everyone who asks again (a popular query, the next
# visitor on a shared link, back and forward): its body is kept beside the result it shows. The key
# holds the result's identity and the entry holds the result, so the id cannot be another object's
# while the entry lives, and a result computed anew (the catalogue changed, or it was evicted) is
# rendered anew. Bounded in bytes: about 160 views of 100 KB.
VIEW_BODY_BYTES = 16 * 2**20
_view_bodies = Memo(VIEW_BODY_BYTES, getsizeof=lambda kept: len(kept[2]))


def render_view(request: Request, params: SearchParams, *, tag: papers.TagInfo | None = None,
                author: papers.AuthorRef | None = None, **extra) -> Response:
    fragment = wants_fragment(request)
    # The request htmx sends while the user types (static/app.js): the last word is a prefix.
    if fragment and request.headers.get("HX-Live") == "1":
        params = replace(params, typing=True)
    try:
        result, refused = run_search(params), None
    except cost.Refused as exc:  # nothing was searched: the view says why, in place of results
        result, refused = SearchResult(params=params, total=0, hits=[]), exc.message
    view = View(tag.slug if tag else None, author.slug if author else None)
    canonical = base_url(request) + view.url(params)

    def render() -> tuple[SearchResult, int, bytes]:
        if tag:
            title = tag.name + (f": {params.q}" if params.q else "")
        elif author:
            title = author.name + (f": {params.q}" if params.q else "")
        else:
            title = f"{params.q} – search" if params.q else "All papers"
        context = common(request, result=result, params=params, view=view, tag=tag, author=author, title=title,
                         fragment=fragment, refused=refused, **extra,
                         view_path=view.url(replace(params, q="", not_tags=(), years=(), sort=None, page=1,
                                                    per_page=PER_PAGE, tags=(tag.slug,) if tag else (),
                                                    since=None, until=None)),
                         canonical=canonical, feed_url=view.feed(params), bib_url=view.bibtex(params))
        response = templates.TemplateResponse(request, "search.html", context, block_name="results" if fragment
                                              else None, headers=VARY, status_code=422 if refused else 200)
        return result, response.status_code, bytes(response.body)

    if extra or refused:  # an author's profile is read apart from the result; a refusal is never cached
        _, status, body = render()
    else:
        key = (id(result), fragment, params, view, astuple(tag) if tag else None,
               astuple(author) if author else None, canonical, request.url.path)
        _, status, body = _view_bodies.get_or(key, render)
    return HTMLResponse(body, status_code=status, headers=VARY)


@page("/", response_class=HTMLResponse)
def home(request: Request, params: ViewParams) -> Response:
    """The search page; with no query it browses the whole catalogue, newest first."""
    return render_view(request, params)


@page("/tags", response_class=HTMLResponse)
def tag_list(request: Request) -> Response:
    """All topics and categories with their counts and descriptions."""
    tags = papers.tags_with_counts()
    groups = {kind.name: [t for t in tags if t.kind == kind.name] for kind in kinds.FACETS if kind.source == "tag"}
    return templates.TemplateResponse(request, "tags.html", common(
        request, title="Tags", groups=groups, canonical=base_url(request) + "/tags"))


@page("/tags/{slug}", response_class=HTMLResponse)
def tag_page(request: Request, slug: str, params: ViewParams) -> Response:
    """One tag's papers, with its rule in words, filtered live like the search page."""
    tag = papers.tag_by_slug(slug)
    if tag is None:
        raise HTTPException(404, f"There is no tag “{slug}”.")
    if tag.slug != slug:  # /tags/cs.lg: one address per tag
        query = request.url.query
        return RedirectResponse(f"/tags/{url_quote(tag.slug, safe='')}" + ("?" + query if query else ""),
                                status_code=301)
    if slug not in params.tags:
        params = replace(params, tags=(slug, *params.tags), not_tags=tuple(t for t in params.not_tags if t != slug))
    return render_view(request, params, tag=tag)


@page("/authors/{slug}", response_class=HTMLResponse)
def author_page(request: Request, slug: str, params: ViewParams) -> Response:
    """An author's papers, searched and filtered like any view; co-authors, topics, and a note
    when the name seems to cover several people."""
    author = papers.author_ref(slug)
    if author is None:
        raise HTTPException(404, f"There is no author “{slug}” in the catalogue.")
    extra = {} if wants_fragment(request) else {"profile": papers.author_profile(author.slug)}
    return render_view(request, replace(params, author=author.slug), author=author, **extra)


@page("/papers/{key:path}", response_class=HTMLResponse)
def paper_page(request: Request, key: str) -> Response:
    """The permalink of a paper (`.bib` for its BibTeX); aliases and slugged URLs redirect here."""
    if key.endswith(".bib"):
        paper = papers.paper_by_key(key.removesuffix(".bib"))
        if paper is None:
            return _redirect_or_404(key.removesuffix(".bib"), suffix=".bib")
        url = f"{base_url(request)}/papers/{paper.hit.key}"
        body = feeds.bibtex_entry(paper.hit, url=url)
        return Response(body, media_type=BIBTEX_TYPE,
                        headers={"Content-Disposition": f'inline; filename="{_filename(paper.hit.key)}.bib"'})
    paper = papers.paper_by_key(key)
    if paper is None:
        return _redirect_or_404(key)
    hit = paper.hit
    canonical = f"{base_url(request)}/papers/{hit.key}"
    explained = {t.slug: papers.explain_tag(hit.id, t.slug) for t in paper.tags if t.kind == "topic"}
    matched = [term for terms in explained.values() for term in terms]
    return templates.TemplateResponse(request, "paper.html", common(
        request, title=hit.title, paper=paper, hit=hit, canonical=canonical, explained=explained,
        abstract_html=papers.highlight_terms(hit.abstract, matched),
        bibtex=feeds.bibtex_entry(hit, url=canonical),
        json_ld=papers.json_ld(paper, canonical)))


@page("/related/{key:path}", response_class=HTMLResponse)
def related_page(request: Request, key: str) -> Response:
    """Papers related to one paper, with the reason; the paper page loads it after showing itself."""
    paper = papers.paper_by_key(key)
    if paper is None:
        target = papers.canonical_key(key)
        if target is None:
            raise PaperNotFound(key)
        return RedirectResponse(f"/related/{target}", status_code=301)
    context = common(request, title=f"Related to {paper.hit.title}", hit=paper.hit,
                     related=related_papers(paper), standalone=not wants_fragment(request))
    name = "_related.html" if wants_fragment(request) else "related.html"
    return templates.TemplateResponse(request, name, context, headers=VARY)


def _filename(key: str) -> str:
    return key.replace("/", "_")


def _redirect_or_404(key: str, suffix: str = "") -> Response:
    """An alias, or a known key followed by a slug, answers 301 to the canonical URL."""
    target = papers.canonical_key(key)
    candidate = key
    while target is None and "/" in candidate:
        candidate = candidate.rsplit("/", 1)[0]
        found = papers.paper_by_key(candidate)
        target = found.hit.key if found else papers.canonical_key(candidate)
    if target is None:
        raise PaperNotFound(key)
    return RedirectResponse(f"/papers/{target}{suffix}", status_code=301)


templates.env.globals["describe_rule"] = papers.describe_rule
templates.env.globals["describe_evidence"] = papers.describe_evidence


# --- feeds and exports -------------------------------------------------------------

def _collect(params: SearchParams, limit: int, sort: str | None) -> list:
    """Up to `limit` hits of a view from its first page on, fetched a page of MAX_PER_PAGE at a time."""
    first = run_search(replace(params, sort=sort, page=1, per_page=min(limit, MAX_PER_PAGE)))
    hits = list(first.hits)
    page = 1
    while len(hits) < min(first.total, limit) and len(hits) == page * MAX_PER_PAGE:
        page += 1
        more = run_search(replace(params, sort=sort, page=page, per_page=MAX_PER_PAGE))
        if not more.hits:
            break
        hits += more.hits
    return hits[:limit]


def _view_title(params: SearchParams, author_name: str | None = None) -> str:
    parts = [f"“{params.q}”"] if params.q else []
    parts += [f"tag {t}" for t in params.tags] + [f"not {t}" for t in params.not_tags]
    parts += [str(y) for y in params.years]
    if params.since or params.until:
        parts.append("published " + "–".join(d.isoformat() if d else "…" for d in (params.since, params.until)))
    if params.author:
        parts.append(f"by {author_name or params.author}")
    return ", ".join(parts) or "all papers"


@page("/feed.atom")
def atom_feed(request: Request, params: ViewParams) -> Response:
    """An Atom feed of any search or tag view, newest first."""
    hits = _collect(params, FEED_SIZE, "newest")
    site = get_settings().site_name
    root = base_url(request)
    author = papers.author_ref(params.author) if params.author else None
    # The page a reader of the feed opens: the author's page, or the tag's, or a search.
    html_view = View(params.tags[0] if len(params.tags) == 1 else None, author.slug if author else None)
    body = feeds.atom(hits, title=f"{site}: {_view_title(params, author.name if author else None)}",
                      feed_url=root + _export_url("feed.atom", params),
                      html_url=root + html_view.url(replace(params, sort=None, page=1, per_page=PER_PAGE)),
                      base_url=root, updated=papers.last_changes([h.id for h in hits]), generator=site)
    return Response(body, media_type=ATOM_TYPE)


@page("/export.bib")
def bibtex_export(request: Request, params: ViewParams) -> Response:
    """BibTeX of a search or tag view, in the view's order (up to MAX_EXPORT papers)."""
    hits = _collect(params, MAX_EXPORT, params.sort)
    return Response(feeds.bibtex(hits, base_url=base_url(request)), media_type=BIBTEX_TYPE,
                    headers={"Content-Disposition": 'inline; filename="papers.bib"'})


@page("/opensearch.xml")
def opensearch(request: Request) -> Response:
    """Lets browsers add the catalogue as a search engine."""
    body = templates.get_template("opensearch.xml").render(site_name=get_settings().site_name,
                                                           base_url=base_url(request))
    return Response(body, media_type="application/opensearchdescription+xml")


# Sitemap bodies per state of the catalogue: rendering 50,000 permalinks costs a second or
# more, and crawlers ask again and again for what changes only when the database does.
_sitemaps = Memo(16)


def _cached_sitemap(request: Request, name: str, render) -> Response:
    root = base_url(request)
    state = catalogue(reader()).signature
    key = (state, root, SITEMAP_SIZE, name)  # everything a body depends on
    return Response(_sitemaps.get_or(key, lambda: render(root)), media_type="application/xml")


@page("/sitemap.xml")
def sitemap(request: Request) -> Response:
    """Every paper's permalink and every tag page; a sitemap index once that exceeds one sitemap's limit."""
    def render(root: str) -> str:
        tags = [t for t in papers.tags_with_counts() if t.count]
        total = papers.paper_count()
        if total + len(tags) + 2 <= SITEMAP_SIZE:
            return templates.get_template("sitemap.xml").render(
                base_url=root, rows=papers.sitemap_rows(0, total), tags=tags, pages=True)
        parts = -(-total // SITEMAP_SIZE)
        return templates.get_template("sitemap-index.xml").render(base_url=root, parts=range(1, parts + 1))
    return _cached_sitemap(request, "index", render)


@page("/sitemaps/pages.xml")
def sitemap_pages(request: Request) -> Response:
    """The home page and tag pages (part of the sitemap index)."""
    return _cached_sitemap(request, "pages", lambda root: templates.get_template("sitemap.xml").render(
        base_url=root, rows=[], tags=[t for t in papers.tags_with_counts() if t.count], pages=True))


@page("/sitemaps/papers-{part}.xml")
def sitemap_part(request: Request, part: Annotated[int, Path(ge=1, le=1_000_000)]) -> Response:
    """One part of the paper permalinks (part of the sitemap index)."""
    if (part - 1) * SITEMAP_SIZE >= papers.paper_count():  # checked first: only real parts are kept
        raise HTTPException(404, "There is no such sitemap part.")

    def render(root: str) -> str:
        rows = papers.sitemap_rows((part - 1) * SITEMAP_SIZE, SITEMAP_SIZE).fetchall()
        return templates.get_template("sitemap.xml").render(base_url=root, rows=rows, tags=[], pages=False)
    return _cached_sitemap(request, f"papers-{part}", render)


@page("/robots.txt", response_class=PlainTextResponse)
def robots(request: Request) -> str:
    """Crawl the permalinks and tag pages; leave the endless filter combinations and the API alone."""
    return "\n".join([
        "User-agent: *",
        "Disallow: /api/",
        "Disallow: /export.bib",
        "Disallow: /feed.atom",
        "Disallow: /*?",
        "Allow: /",
        f"Sitemap: {base_url(request)}/sitemap.xml",
        "",
    ])
