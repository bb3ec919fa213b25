"""The request parameters of a view, parsed once for the HTML pages, feeds and the JSON API alike.

One set of limits: a query is cut to MAX_QUERY_CHARS (the parser's own cap; the
address itself is bounded by app/web/limits.py), pages go up to MAX_PAGE and page
sizes to MAX_PER_PAGE; other values are answered 422 (an error page, or JSON under /api).
"""

from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import Field

from app.results import MAX_PAGE, MAX_PER_PAGE, PER_PAGE, SearchParams
from app.search.query import MAX_QUERY_CHARS

Sort = Literal["relevance", "newest", "oldest", "title"]
Year = Annotated[int, Field(ge=1, le=9999)]


def view_params(
    q: Annotated[str, Query(description="Query in the search language (words, \"phrases\", OR, -word, "
                                "prefix*, title:, abstract:, author:, tag:, year:, id:)")] = "",
    tag: Annotated[list[str], Query(description="Required tag slug (repeatable: all must match)")] = [],  # noqa: B006 - FastAPI copies defaults
    not_tag: Annotated[list[str], Query(description="Excluded tag slug (repeatable)")] = [],  # noqa: B006
    year: Annotated[list[Year], Query(description="Publication year (repeatable: any of them)")] = [],  # noqa: B006
    sort: Annotated[Sort | None, Query(description="Default: relevance with a query, newest without")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = PER_PAGE,
) -> SearchParams:
    """The view a URL names (every state is a URL)."""
    def unique(values):
        return tuple(dict.fromkeys(v for v in values if v))
    return SearchParams(q=q.strip()[:MAX_QUERY_CHARS], tags=unique(tag), not_tags=unique(not_tag),
                        years=unique(year), sort=sort, page=page, per_page=per_page)


ViewParams = Annotated[SearchParams, Depends(view_params)]
