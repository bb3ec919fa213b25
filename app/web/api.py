"""JSON routes under /api: the search, one paper, the tags. Thin renderers of app.search and the tables."""

from datetime import date
from urllib.parse import quote as url_quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from app import kinds, papers, search
from app.db import reader
from app.results import Hit
from app.search.catalogue import catalogue
from app.web.errors import ErrorOut, ValidationErrorOut
from app.web.params import ViewParams

router = APIRouter(prefix="/api", tags=["api"])



class TagOut(BaseModel):
    slug: str
    name: str
    kind: str = Field(description='"topic", "category" or "classification" (see app/kinds.py)')


class PaperOut(BaseModel):
    id: str = Field(description="The public key: the permalink is /papers/{id}")
    title: str
    abstract: str
    authors: list[str]
    published: date | None
    url: str = Field(description="Permalink path, /papers/{id}")
    tags: list[TagOut]
    upvotes: int | None = Field(default=None, description="Upvotes on the daily-papers feed when the paper came"
                                                          " from there (sort=trending orders by them), else null")


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
    corrected_query: str | None = Field(
        default=None, description="The spelling correction whose results are shown instead of the query's"
                                  " (the query found almost nothing; as_typed=true searches it as typed), or null")


class PaperDetailOut(PaperOut):
    arxiv_id: str | None
    source_url: str | None = Field(description="The paper at its source (arXiv abstract page when known)")
    categories: list[str]


class TagDetailOut(TagOut):
    description: str
    rule: str = Field(description="For topics, the saved query that assigns the tag")
    count: int


def _permalink(key: str) -> str:
    return f"/papers/{url_quote(key, safe='/:')}"


def _tags(refs) -> list[TagOut]:
    return [TagOut(slug=t.slug, name=t.name, kind=t.kind) for t in refs]


def _result(hit: Hit) -> ResultOut:
    return ResultOut(id=hit.key, title=hit.title, abstract=hit.abstract, authors=hit.authors,
                     published=hit.published, url=_permalink(hit.key), tags=_tags(hit.tags),
                     snippet=str(hit.snippet), upvotes=hit.upvotes)


@router.get("/papers", response_model=SearchOut, responses={422: {
    "model": ErrorOut | ValidationErrorOut,
    "description": "An invalid parameter, or a query past a bound of the query cost model (`limit` names it)"}})
def search_papers(params: ViewParams) -> SearchOut:
    """Search the catalogue: a ranked page of papers, the total, tag facets and a spelling suggestion."""
    result = search.run(params)
    facet_tags = [FacetTagOut(slug=v.value, name=v.label, kind=v.kind, count=v.count, selected=v.selected)
                  for kind in kinds.TAG_FACETS for v in result.facets.get(kind, [])
                  if v.count or v.selected]  # pages keep rows an exclusion emptied (so none moves); the API need not
    return SearchOut(query=params.q, total=result.total, page=params.page, per_page=params.per_page,
                     results=[_result(h) for h in result.hits], facets=FacetsOut(tags=facet_tags),
                     suggestion=result.suggestion, corrected_query=result.corrected_query)


@router.get("/papers/{key:path}", response_model=PaperDetailOut,
            responses={301: {"description": "An old id of the paper: redirects to its current id"},
                       404: {"model": ErrorOut, "description": "No paper has this id"}})
def get_paper(key: str):
    """One paper by its public id (an arXiv id or a key); old ids redirect to the current one."""
    paper = papers.paper_by_key(key)
    if paper is None:
        canonical = papers.canonical_key(key)
        if canonical is not None:
            return RedirectResponse(f"/api{_permalink(canonical)}", status_code=301)
        return JSONResponse({"detail": f"no paper with id {key!r}"}, status_code=404)
    hit = paper.hit
    source = hit.url or (f"https://arxiv.org/abs/{hit.arxiv_id}" if hit.arxiv_id else None)
    return PaperDetailOut(id=hit.key, title=hit.title, abstract=hit.abstract, authors=hit.authors,
                          published=hit.published, url=_permalink(hit.key), tags=_tags(hit.tags),
                          arxiv_id=hit.arxiv_id, source_url=source, categories=paper.categories,
                          upvotes=hit.upvotes)


@router.get("/tags", response_model=list[TagDetailOut])
def list_tags() -> list[TagDetailOut]:
    """Every tag (topics, then source categories) with its description, rule and paper count."""
    cat = catalogue(reader())
    tags = sorted(cat.tags.values(), key=lambda t: (kinds.order(t.kind), -t.count, t.name.lower()))
    return [TagDetailOut(slug=t.slug, name=t.name, kind=t.kind, description=t.description, rule=t.rule,
                         count=t.count) for t in tags]


# Link checkers and unfurlers ask with HEAD; answered like GET, kept out of the schema.
for _route in list(router.routes):
    router.add_api_route(_route.path.removeprefix("/api"), _route.endpoint, methods=["HEAD"],
                         response_model=_route.response_model, include_in_schema=False)
