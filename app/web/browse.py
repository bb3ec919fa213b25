"""Ways to browse beside the search box: a facet group in full, the daily "new" listings, reading lists.

Each is a thin renderer of `search.run` (or of keyed reads in app/papers.py) with
its own page, fragment, Atom feed or BibTeX, like every other view.
"""

from dataclasses import replace
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import feeds, kinds, papers, search
from app.db import reader
from app.results import SearchParams
from app.search.catalogue import catalogue
from app.settings import get_settings
from app.web.params import DAY_PATTERN, ViewParams
from app.web.render import VARY, base_url, common, templates, wants_fragment

router = APIRouter(include_in_schema=False)

ATOM_TYPE = "application/atom+xml; charset=utf-8"
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"
LIST_MAX = 100        # papers in one reading list: what one URL comfortably carries
LIST_TITLE_MAX = 120
NEW_PER_PAGE = 50


def page(path: str, **kwargs):
    return router.api_route(path, methods=["GET", "HEAD"], **kwargs)


# --- a facet group in full -----------------------------------------------------------

@page("/facets/{kind}", response_class=HTMLResponse)
def facet_group(request: Request, kind: str, params: ViewParams,
                within: Annotated[str, Query(max_length=200)] = "",
                by: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Every value of one facet group of a view: the group alone for htmx ("show all"), a page without JS."""
    if kind not in kinds.TAG_FACETS:
        raise HTTPException(404, f"There is no facet group “{kind}”.")
    from app.web.pages import View  # the view's own URLs, so every value links back to it

    tag = papers.tag_by_slug(within) if within else None
    author = papers.author_ref(by) if by else None
    if within and tag is None:
        raise HTTPException(404, f"There is no tag “{within}”.")
    if tag and tag.slug not in params.tags:
        params = replace(params, tags=(tag.slug, *params.tags))
    if author:
        params = replace(params, author=author.slug)
    result = search.run(replace(params, page=1), all_facets=True)  # toggles lead to each view's first page
    view = View(tag.slug if tag else None, author.slug if author else None)
    heading = kinds.BY_NAME[kind].heading
    context = common(request, result=result, p=result.params, view=view, tag=tag, kind=kind, heading=heading,
                     values=result.facets.get(kind, []), back_url=view.url(params), fragment=wants_fragment(request),
                     title=f"All {heading.lower()}", view_path=view.url(replace(
                         result.params, q="", tags=(tag.slug,) if tag else (), not_tags=(), years=(), sort=None,
                         since=None, until=None, page=1, per_page=20)))
    if wants_fragment(request):
        return templates.TemplateResponse(request, "_facet_group.html", context, headers=VARY)
    return templates.TemplateResponse(request, "facets.html", context, headers=VARY)


# --- new papers, a day at a time -----------------------------------------------------

def _listing(day_text: str) -> tuple[date | None, date | None]:
    """(the listing day: the latest publication day up to the one asked for, the listing day before it)."""
    cat = catalogue(reader())
    latest = cat.latest_day
    if latest is None:
        return None, None
    asked = None
    if day_text:
        try:
            asked = date.fromisoformat(day_text)
        except ValueError as exc:
            raise HTTPException(422, "day: not a date (YYYY-MM-DD)") from exc
    day = latest if asked is None or asked >= latest else cat.day_before(asked + timedelta(days=1))
    return day, (cat.day_before(day) if day else None)


@page("/new", response_class=HTMLResponse)
@page("/new/{slug}", response_class=HTMLResponse)
def new_papers(request: Request, slug: str = "",
               day: Annotated[str, Query(max_length=10, pattern=DAY_PATTERN)] = "",
               page_number: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1,
               sort: Literal["newest", "trending"] = "newest") -> Response:
    """What is new: the papers published since the previous listing day, for all or one category or topic."""
    if slug.endswith(".atom"):
        return new_feed(request, slug.removesuffix(".atom"))
    tag = _listing_tag(slug)
    listed, previous = _listing(day)
    params = _new_params(tag, listed, previous, page_number, sort=sort)
    result = search.run(params) if listed else None
    here = "/new" + (f"/{url_quote(tag.slug, safe='')}" if tag else "")
    topics = [t for t in papers.tags_with_counts() if t.count and t.kind in kinds.TAG_FACETS]
    # The listing's own state in its links (pages keep the day asked for and the order)
    day_state = urlencode([("day", listed.isoformat())]) if day and listed else ""
    state = "&".join(part for part in (day_state, "sort=trending" if sort == "trending" else "") if part)
    return templates.TemplateResponse(request, "new.html", common(
        request, title="New papers" + (f" in {tag.name}" if tag else ""), tag=tag, result=result, day=listed,
        previous=previous, here=here, sort=sort, feed_url=here + ".atom" if tag else "/new.atom", choices=topics[:40],
        search_url="/?" + params.query_string(page=1, per_page=20, sort=None) if listed else "/",
        state=state, day_state=day_state, canonical=base_url(request) + here + ("?" + state if state else "")))


@page("/new.atom")
def new_feed_all(request: Request) -> Response:
    """The Atom feed of the latest listing day."""
    return new_feed(request, "")


def new_feed(request: Request, slug: str) -> Response:
    tag = _listing_tag(slug)
    listed, previous = _listing("")
    hits = search.run(_new_params(tag, listed, previous, 1, per_page=100)).hits if listed else []
    site = get_settings().site_name
    root = base_url(request)
    here = "/new" + (f"/{url_quote(tag.slug, safe='')}" if tag else "")
    body = feeds.atom(hits, title=f"{site}: new papers" + (f" in {tag.name}" if tag else ""),
                      feed_url=root + here + ".atom", html_url=root + here, base_url=root,
                      updated=papers.last_changes([h.id for h in hits]), generator=site)
    return Response(body, media_type=ATOM_TYPE)


def _listing_tag(slug: str):
    if not slug:
        return None
    tag = papers.tag_by_slug(slug)
    if tag is None:
        raise HTTPException(404, f"There is no category or topic “{slug}”.")
    return tag


def _new_params(tag, listed: date | None, previous: date | None, page_number: int,
                per_page: int = NEW_PER_PAGE, sort: str = "newest") -> SearchParams:
    since = previous + timedelta(days=1) if previous else listed
    return SearchParams(tags=(tag.slug,) if tag else (), since=since, until=listed, sort=sort,
                        page=page_number, per_page=per_page)


# --- reading lists -------------------------------------------------------------------

def _list_keys(ids: list[str]) -> list[str]:
    keys = [k.strip() for value in ids for k in value.split(",") if k.strip()]
    return list(dict.fromkeys(keys))[:LIST_MAX]


def list_url(keys: list[str], title: str = "", suffix: str = "") -> str:
    pairs = [("ids", ",".join(keys))] + ([("title", title)] if title else [])
    return f"/list{suffix}?" + urlencode(pairs, safe=",/:")


ListIds = Annotated[list[str], Query(max_length=LIST_MAX * 40, description="Paper ids, comma-separated")]
ListTitle = Annotated[str, Query(max_length=LIST_TITLE_MAX * 4)]


@page("/list", response_class=HTMLResponse)
def reading_list(request: Request, ids: ListIds = [], title: ListTitle = "") -> Response:  # noqa: B006
    """A reading list anyone can share: the papers of `ids`, in that order, under an optional title."""
    keys, given = _list_keys(ids), " ".join(title.split())[:LIST_TITLE_MAX]
    canonical = list_url(keys, given)
    if len(ids) > 1 or (ids and ",".join(keys) != ids[0]) or given != title:
        return RedirectResponse(canonical, status_code=303)  # one address per list, whatever the form sent
    hits, missing = papers.hits_by_keys(keys)
    found = [h.key for h in hits]
    return templates.TemplateResponse(request, "list.html", common(
        request, title=given or "Reading list", given_title=given, hits=hits, missing=missing, keys=found,
        max_title=LIST_TITLE_MAX, canonical=base_url(request) + canonical,
        bib_url=list_url(found, given, ".bib"), feed_url=list_url(found, given, ".atom"),
        filename="".join(c if c.isalnum() else "-" for c in (given or "reading-list").lower())[:60],
        remove_urls={k: list_url([x for x in found if x != k], given) for k in found}))


@page("/list.bib")
def reading_list_bibtex(request: Request, ids: ListIds = [], title: ListTitle = "") -> Response:  # noqa: B006
    """BibTeX of a reading list, in its order."""
    hits, _ = papers.hits_by_keys(_list_keys(ids))
    return Response(feeds.bibtex(hits, base_url=base_url(request)), media_type=BIBTEX_TYPE,
                    headers={"Content-Disposition": 'inline; filename="reading-list.bib"'})


@page("/list.atom")
def reading_list_feed(request: Request, ids: ListIds = [], title: ListTitle = "") -> Response:  # noqa: B006
    """An Atom feed of a reading list."""
    keys, given = _list_keys(ids), " ".join(title.split())[:LIST_TITLE_MAX]
    hits, _ = papers.hits_by_keys(keys)
    site = get_settings().site_name
    root = base_url(request)
    body = feeds.atom(hits, title=f"{site}: {given or 'reading list'}", feed_url=root + list_url(keys, given, ".atom"),
                      html_url=root + list_url(keys, given), base_url=root,
                      updated=papers.last_changes([h.id for h in hits]), generator=site)
    return Response(body, media_type=ATOM_TYPE)
