"""What every HTML response shares: the templates, the common context, fragment detection, and the
helpers that keep a page's hot loops (result rows, facet values) out of macro calls.

A search page repeats the same few pieces dozens of times (a link that is also an htmx swap, an
author's page, a whole abstract with the words searched for marked): each is a plain function here,
cached where it is a pure function of its arguments, so rendering a page costs little more than
joining its strings (figures in bench/README.md, "Rendering cost").
"""

from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import NamedTuple
from fastapi import Request
from jinja2 import StrictUndefined, pass_context
from jinja2.utils import url_quote
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup, escape

from app import kinds
from app.db import reader
from app.ingest.records import author_slug
from app.papers import highlight_terms
from app.search.catalogue import catalogue
from app.settings import TEMPLATES_DIR, get_settings

templates = Jinja2Blocks(directory=TEMPLATES_DIR)
templates.env.undefined = StrictUndefined  # a missing name is a bug, not an empty string
# Templates are compiled once per process: checking every template's file on each render (and on
# each `{% from ... import %}`) costs a stat per use, and a deployed app's templates do not change.
templates.env.auto_reload = False
templates.env.globals["replace"] = replace
templates.env.filters["capitalize_first"] = lambda text: text[:1].upper() + text[1:]
# Bidi controls (embeddings, overrides, isolates, marks): in text a visitor typed, a RIGHT-TO-LEFT
# OVERRIDE would reverse whatever follows it. HTML shows such text in <bdi>; a <title> has no
# markup, so there they are removed.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                                         "\u200e\u200f\u061c"))
templates.env.filters["without_bidi"] = lambda text: str(text).translate(_BIDI_CONTROLS)
# (kind, heading) of every facet group, in order (app/kinds.py)
templates.env.globals["facet_groups"] = [(kind.name, kind.heading) for kind in kinds.FACETS]
templates.env.globals["tag_groups"] = [(kind.name, kind.heading) for kind in kinds.FACETS if kind.source == "tag"]
templates.env.globals["kind_singular"] = {kind.name: kind.singular for kind in kinds.KINDS}  # "arXiv category"
VARY = {"Vary": "HX-Request, HX-Live"}


_FROM_CONTEXT = object()


@pass_context
def link_attrs(context, url: str, view_path=_FROM_CONTEXT) -> Markup:
    """`href` of a link, and `hx-get` too when it stays in the view being shown (its path is the
    view's `view_path`, or the page has none): htmx then swaps the results in place, and the link
    still works as a plain link without JavaScript. The one rule of every view link (`vlink`).
    A kept macro (below) is given `view_path`, having no context of its own."""
    if view_path is _FROM_CONTEXT:
        view_path = context.get("view_path")
    quoted = escape(url)
    if view_path is None or url.partition("?")[0] == view_path:
        return Markup(f'href="{quoted}" hx-get="{quoted}"')
    return Markup(f'href="{quoted}"')


def kept(template: str, macro: str, *args) -> Markup:
    """A macro's rendering, kept for its arguments: for the pieces a page repeats and other pages
    repeat again (a facet value with its two links, a row's tag chips), and a search view's result
    rows, which the same view of a cached result shows again. Such a macro reads nothing but its
    arguments (hashable values: a view, its params, frozen result values) and the constant globals
    and filters, so the same arguments always render the same text."""
    return _kept(template, macro, args)


# A page keeps about 65 small pieces (a few hundred bytes each) and 20 rows (2-3 KB each, the whole
# abstract included): about 120 pages' worth, some 10 MB.
@lru_cache(maxsize=10_240)
def _kept(template: str, macro: str, args: tuple) -> Markup:
    return getattr(templates.env.get_template(template).module, macro)(*args)


@lru_cache(maxsize=16_384)
def author_path(name: str) -> str:
    """/authors/{slug} of an author's name: the ingest's own slug rule, so row links need no query."""
    return "/authors/" + url_quote(author_slug(name))  # Jinja's `urlencode` of a string


def whole_abstract(abstract: str, terms) -> Markup:
    """The abstract escaped, with the words searched for marked: rows of a popular query repeat it."""
    return _highlighted(abstract, tuple(terms))


@lru_cache(maxsize=2048)
def _highlighted(abstract: str, terms: tuple[str, ...]) -> Markup:
    return highlight_terms(abstract, list(terms))


@lru_cache(maxsize=4096)
def more_than_snippet(abstract: str, snippet: Markup) -> bool:
    """Whether the abstract says more than its excerpt (the row then offers the whole of it)."""
    return len(abstract) > len(snippet.striptags()) + 12


class _MetaFields(NamedTuple):
    """The fields of a Hit the `meta` macro may read (a row's byline, date and links): its cache key."""
    key: str
    authors: tuple[str, ...]
    published: date | None
    arxiv_id: str | None
    url: str | None
    upvotes: int | None


def hit_meta(hit) -> Markup:
    """A row's byline, date and links (`meta` in _macros.html), the same for a paper in every view."""
    return _kept("_macros.html", "meta", (_MetaFields(hit.key, hit.authors, hit.published, hit.arxiv_id, hit.url,
                                                      hit.upvotes),))


def page_numbers(page: int, last: int) -> list[int]:
    """The pages a pager names: the first, the last, and two either side of the current one."""
    return sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})


def facet_labels(facets) -> dict[str, str]:
    """value -> label of every facet value of a result (the names of the active filters)."""
    return {v.value: v.label for values in facets.values() for v in values}


templates.env.globals.update(link_attrs=link_attrs, kept=kept, hit_meta=hit_meta, whole_abstract=whole_abstract,
                             page_numbers=page_numbers, more_than_snippet=more_than_snippet, facet_labels=facet_labels)
templates.env.filters["author_path"] = author_path
templates.env.filters["num"] = "{:,}".format  # 12345 -> "12,345"


def trending_offered() -> bool:
    """Whether the "Trending" sort means anything here: some paper has upvotes (daily papers).
    A template global rather than common context: error pages render while the database cannot be read."""
    return catalogue(reader()).upvoted > 0


templates.env.globals["trending_offered"] = trending_offered


def base_url(request: Request) -> str:
    return (get_settings().base_url or str(request.base_url)).rstrip("/")


def wants_fragment(request: Request) -> bool:
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def common(request: Request, **context) -> dict:
    settings = get_settings()
    return {"site_name": settings.site_name, "base_url": base_url(request), "path": request.url.path,
            "canonical": None, **context}
