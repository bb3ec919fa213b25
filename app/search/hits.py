"""The records of a result page: the papers, their tags and authors, highlighted.

One query per table for the whole page, whatever its size.
"""

from datetime import date

from app.plan import Text
from app.results import Hit, TagRef
from app.search import snippets

_PAPER_COLUMNS = "id, key, arxiv_id, title, abstract, authors, published, url"


def page(conn, ids: list[int], match: Text | None, matches: int | None = None) -> list[Hit]:
    """The Hits for paper ids, in that order; `match` (whose bitset is `matches`) is highlighted."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in conn.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN ({marks})", ids)}
    tags: dict[int, list[TagRef]] = {i: [] for i in ids}
    for r in conn.execute("SELECT pt.paper_id, t.slug, t.name, t.kind FROM paper_tags pt JOIN tags t"
                          f" ON t.id = pt.tag_id WHERE pt.paper_id IN ({marks})"
                          " ORDER BY t.kind = 'category', t.name", ids):
        tags[r[0]].append(TagRef(r[1], r[2], r[3]))
    authors: dict[int, list[str]] = {}
    for r in conn.execute("SELECT pa.paper_id, a.name FROM paper_authors pa JOIN authors a"
                          f" ON a.id = pa.author_id WHERE pa.paper_id IN ({marks})"
                          " ORDER BY pa.paper_id, pa.position", ids):
        authors.setdefault(r[0], []).append(r[1])
    present = [rows[i] for i in ids if i in rows]
    marked = snippets.highlight(conn, match, present, matches)
    return [Hit(id=r["id"], key=r["key"], arxiv_id=r["arxiv_id"], title=r["title"], abstract=r["abstract"],
                authors=authors.get(r["id"]) or [a for a in (r["authors"] or "").split(", ") if a],
                published=as_date(r["published"]), url=r["url"], tags=tags[r["id"]],
                title_html=marked[r["id"]][0], snippet=marked[r["id"]][1]) for r in present]


def as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
