"""The request parameters of a view, parsed once for the HTML pages, feeds and the JSON API alike.

One set of limits: a query is cut to MAX_QUERY_CHARS (the parser's own cap; the
address itself is bounded by app/web/limits.py), pages go up to MAX_PAGE and page
sizes to MAX_PER_PAGE; other values are answered 422 (an error page, or JSON under /api).
"""

from calendar import monthrange
from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import Field

from app.results import MAX_PAGE, MAX_PER_PAGE, PER_PAGE, SearchParams
from app.search.query import MAX_QUERY_CHARS, day_of

DAY_PATTERN = r"^([1-9]\d{3}(-(0?[1-9]|1[0-2])(-(0?[1-9]|[12]\d|3[01]))?)?)?$"

Sort = Literal["relevance", "newest", "oldest", "title", "trending"]
Year = Annotated[int, Field(ge=1, le=9999)]


def view_params(
    q: Annotated[str, Query(description="Query in the search language (words, \"phrases\", OR, -word, "
                                "prefix*, title:, abstract:, author:, tag:, year:, id:)")] = "",
    tag: Annotated[list[str], Query(description="Required tag slug (repeatable: all must match)")] = [],  # noqa: B006 - FastAPI copies defaults
    not_tag: Annotated[list[str], Query(description="Excluded tag slug (repeatable)")] = [],  # noqa: B006
    year: Annotated[list[Year], Query(description="Publication year (repeatable: any of them)")] = [],  # noqa: B006
    sort: Annotated[Sort | None, Query(description="Default: relevance with a query, newest without. trending: most"
                                                   " upvoted first (daily-papers upvotes), ties and papers"
                                                   " without upvotes newest first")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = PER_PAGE,
    since: Annotated[str, Query(alias="from", max_length=10, pattern=DAY_PATTERN,
                                description="Published on or after: YYYY-MM-DD, YYYY-MM or YYYY")] = "",
    until: Annotated[str, Query(alias="to", max_length=10, pattern=DAY_PATTERN,
                                description="Published on or before: YYYY-MM-DD, YYYY-MM or YYYY")] = "",
    author: Annotated[str, Query(max_length=200, description="An author's slug (as in /authors/{slug})")] = "",
    as_typed: Annotated[bool, Query(description="Search the words as typed, never a spelling correction")] = False,
) -> SearchParams:
    """The view a URL names (every state is a URL)."""
    def unique(values):
        return tuple(dict.fromkeys(v for v in values if v))
    first, last = _day(since, last=False), _day(until, last=True)
    if first and last and first > last:
        first, last = last, first
    return SearchParams(q=q.strip()[:MAX_QUERY_CHARS], tags=unique(tag), not_tags=unique(not_tag),
                        years=unique(year), sort=sort, page=page, per_page=per_page, since=first, until=last,
                        author=author.strip() or None, as_typed=as_typed)


def _day(text: str, last: bool):
    """A `from`/`to` value (already matched DAY_PATTERN); a day past its month's end (02-30) is its last day."""
    if not text:
        return None
    parts = [int(x) for x in text.split("-")]
    if len(parts) == 3:
        parts[2] = min(parts[2], monthrange(parts[0], parts[1])[1])
    return day_of("-".join(str(x) for x in parts), last=last)


ViewParams = Annotated[SearchParams, Depends(view_params)]
