"""A stand-in for `search.run` while the engine is being written: unranked, no snippets.

Deleted once `search.run` answers; web.py only calls it on NotImplementedError.
"""

from app.db import reader
from app.papers import PAPER_COLUMNS, hits_for_rows
from app.query import compile_query
from app.search import FacetValue, SearchParams, SearchResult

TAGGED = "SELECT pt.paper_id FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id WHERE t.slug = ?"


def run(params: SearchParams) -> SearchResult:
    compiled = compile_query(params.q)
    where, args = ["1"], []
    if compiled.match:
        where.append("p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)")
        args.append(compiled.match)
    if compiled.where:
        where.append(compiled.where)
        args += list(compiled.params)
    for slug in params.tags:
        where.append(f"p.id IN ({TAGGED})")
        args.append(slug)
    for slug in params.not_tags:
        where.append(f"p.id NOT IN ({TAGGED})")
        args.append(slug)
    if params.years:
        where.append(f"p.year IN ({','.join('?' * len(params.years))})")
        args += list(params.years)
    cond = " AND ".join(where)
    order = {"title": "p.title", "oldest": "p.published IS NULL, p.published, p.id"}.get(
        params.effective_sort, "p.published IS NULL, p.published DESC, p.id DESC")
    conn = reader()
    total = conn.execute(f"SELECT count(*) FROM papers p WHERE {cond}", args).fetchone()[0]
    rows = conn.execute(f"SELECT {PAPER_COLUMNS} FROM papers p WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
                        [*args, params.per_page, (params.page - 1) * params.per_page]).fetchall()
    facets: dict[str, list[FacetValue]] = {"topic": [], "category": [], "year": []}
    for row in conn.execute(
            "SELECT t.slug, t.name, t.kind, count(*) AS n FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
            f" WHERE pt.paper_id IN (SELECT p.id FROM papers p WHERE {cond}) GROUP BY t.id ORDER BY n DESC LIMIT 30",
            args):
        facets[row["kind"]].append(FacetValue(
            row["slug"], row["name"], row["kind"], row["n"], selected=row["slug"] in params.tags,
            toggle=params.toggle_tag(row["slug"]), exclude=params.toggle_exclusion(row["slug"])))
    for slug in params.not_tags:
        facets["topic"].append(FacetValue(slug, slug, "topic", 0, excluded=True,
                                          toggle=params.toggle_exclusion(slug), exclude=params.toggle_exclusion(slug)))
    for row in conn.execute(f"SELECT p.year, count(*) AS n FROM papers p WHERE {cond} AND p.year IS NOT NULL"
                            " GROUP BY p.year ORDER BY p.year DESC", args):
        facets["year"].append(FacetValue(str(row["year"]), str(row["year"]), "year", row["n"],
                                         selected=row["year"] in params.years, toggle=params.toggle_year(row["year"])))
    return SearchResult(params=params, total=total, hits=hits_for_rows(rows), facets=facets)
