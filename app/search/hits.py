"""The records of a result page: the papers, their tags and authors, highlighted.

One query per table for the whole page, whatever its size; the Hits are built by
the read layer (app/papers.py), the highlights by snippets.py.
"""

from app import papers
from app.plan import Text
from app.results import Hit
from app.search import snippets


def page(conn, ids: list[int], match: Text | None, matches: int | None = None) -> list[Hit]:
    """The Hits for paper ids, in that order; `match` (whose bitset is `matches`) is highlighted."""
    if not ids:
        return []
    present = papers.rows(conn, ids)
    return papers.hits(conn, present, snippets.highlight(conn, match, present, matches))
