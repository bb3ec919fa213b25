"""JSON routes under /api: the search, one paper, the tags. Thin renderers of app.search and the tables."""

import re
from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote as url_quote

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from app import bitsets, hits, search
from app.db import reader
from app.search import Hit, SearchParams
from app.settings import get_settings

router = APIRouter(prefix="/api", tags=["api"])

MAX_PAGE = 1_000_000
Year = Annotated[int, Field(ge=1, le=9999)]
_PAPER_COLUMNS = "id, key, arxiv_id, title, abstract, authors, categories, published, url"


class TagOut(BaseModel):
    slug: str
    name: str
    kind: str = Field(description='"topic" or "category"')


class PaperOut(BaseModel):
    id: str = Field(description="The public key: the permalink is /papers/{id}")
    title: str
    abstract: str
    authors: list[str]
    published: date | None
    url: str = Field(description="Permalink path, /papers/{id}")
    tags: list[TagOut]


class ResultOut(PaperOut):
    snippet: str = Field(description="HTML: an escaped abstract excerpt with matched terms in <mark>")


class FacetTagOut(TagOut):
    count: int = Field(description="Papers of the whole filtered result set that carry this tag")
    selected: bool


class FacetsOut(BaseModel):
    tags: list[FacetTagOut]


class SearchOut(BaseModel):
    query: str
    total: int
    page: int
    per_page: int
    results: list[ResultOut]
    facets: FacetsOut
    suggestion: str | None = Field(description="A corrected query (did you mean), or null")


class PaperDetailOut(PaperOut):
    arxiv_id: str | None
    source_url: str | None = Field(description="The paper at its source (arXiv abstract page when known)")
    categories: list[str]


class TagDetailOut(TagOut):
    description: str
    rule: str = Field(description="For topics, the saved query that assigns the tag")
    count: int


class ErrorOut(BaseModel):
    detail: str


def _permalink(key: str) -> str:
    return f"/papers/{url_quote(key, safe='/:')}"


def _tags(refs) -> list[TagOut]:
    return [TagOut(slug=t.slug, name=t.name, kind=t.kind) for t in refs]


def _result(hit: Hit) -> ResultOut:
    return ResultOut(id=hit.key, title=hit.title, abstract=hit.abstract, authors=hit.authors,
                     published=hit.published, url=_permalink(hit.key), tags=_tags(hit.tags),
                     snippet=str(hit.snippet))


@router.get("/papers", response_model=SearchOut)
def search_papers(
    q: Annotated[str, Query(description="Query in the search language (words, \"phrases\", OR, -word, "
                                         "prefix*, title:, abstract:, author:, tag:, year:, id:)")] = "",
    tag: Annotated[list[str], Query(description="Required tag slug (repeatable: all must match)")] = [],  # noqa: B006
    not_tag: Annotated[list[str], Query(description="Excluded tag slug (repeatable)")] = [],  # noqa: B006
    year: Annotated[list[Year], Query(description="Publication year (repeatable: any of them)")] = [],  # noqa: B006
    sort: Annotated[Literal["relevance", "newest", "oldest", "title"] | None,
                    Query(description="Default: relevance with a query, newest without")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=search.MAX_PER_PAGE)] = 20,
) -> SearchOut:
    """Search the catalogue: a ranked page of papers, the total, tag facets and a spelling suggestion."""
    def unique(values):
        return tuple(dict.fromkeys(v for v in values if v))
    params = SearchParams(q=q, tags=unique(tag), not_tags=unique(not_tag), years=unique(year),
                          sort=sort, page=page, per_page=per_page)
    result = search.run(params)
    facet_tags = [FacetTagOut(slug=v.value, name=v.label, kind=v.kind, count=v.count, selected=v.selected)
                  for kind in ("topic", "category") for v in result.facets.get(kind, [])]
    return SearchOut(query=q, total=result.total, page=page, per_page=per_page,
                     results=[_result(h) for h in result.hits], facets=FacetsOut(tags=facet_tags),
                     suggestion=result.suggestion)


@router.get("/papers/{key:path}", response_model=PaperDetailOut,
            responses={301: {"description": "An old id of the paper: redirects to its current id"},
                       404: {"model": ErrorOut, "description": "No paper has this id"}})
def get_paper(key: str):
    """One paper by its public id (an arXiv id or a key); old ids redirect to the current one."""
    conn = reader()
    row = conn.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE key = ?", (key,)).fetchone()
    if row is None:
        canonical = _canonical(conn, key)
        if canonical is not None:
            return RedirectResponse(f"/api{_permalink(canonical)}", status_code=301)
        return JSONResponse({"detail": f"no paper with id {key!r}"}, status_code=404)
    tags = [TagOut(slug=r[0], name=r[1], kind=r[2]) for r in conn.execute(
        "SELECT t.slug, t.name, t.kind FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
        " WHERE pt.paper_id = ? ORDER BY t.kind = 'category', t.name", (row["id"],))]
    authors = [r[0] for r in conn.execute(
        "SELECT a.name FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
        " WHERE pa.paper_id = ? ORDER BY pa.position", (row["id"],))]
    authors = authors or [a for a in (row["authors"] or "").split(", ") if a]
    source = row["url"] or (f"https://arxiv.org/abs/{row['arxiv_id']}" if row["arxiv_id"] else None)
    return PaperDetailOut(id=row["key"], title=row["title"], abstract=row["abstract"], authors=authors,
                          published=hits.as_date(row["published"]), url=_permalink(row["key"]), tags=tags,
                          arxiv_id=row["arxiv_id"], source_url=source,
                          categories=(row["categories"] or "").split())


def _canonical(conn, key: str) -> str | None:
    """The current id of a paper once known as `key`: an alias, or an arXiv id with a version."""
    row = conn.execute("SELECT p.key FROM aliases a JOIN papers p ON p.id = a.paper_id WHERE a.key = ?",
                       (key,)).fetchone()
    if row is None and re.search(r"v\d+$", key):
        row = conn.execute("SELECT key FROM papers WHERE arxiv_id = ?", (re.sub(r"v\d+$", "", key),)).fetchone()
    return row[0] if row else None


@router.get("/tags", response_model=list[TagDetailOut])
def list_tags() -> list[TagDetailOut]:
    """Every tag (topics, then source categories) with its description, rule and paper count."""
    cat = bitsets.catalogue(reader(), get_settings().database_path)
    tags = sorted(cat.tags.values(), key=lambda t: (t.kind != "topic", -t.count, t.name.lower()))
    return [TagDetailOut(slug=t.slug, name=t.name, kind=t.kind, description=t.description, rule=t.rule,
                         count=t.count) for t in tags]


# Link checkers and unfurlers ask with HEAD; answered like GET, kept out of the schema.
for _route in list(router.routes):
    router.add_api_route(_route.path.removeprefix("/api"), _route.endpoint, methods=["HEAD"],
                         response_model=_route.response_model, include_in_schema=False)
