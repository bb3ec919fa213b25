"""The read layer's whole-catalogue reads: every paper's id by date, year, title and tag,
and the words papers are written in.

app/papers.py reads papers by key for pages; this module reads columns of every paper
at once, for what the search keeps in memory per database state: the catalogue's sets
(app/search/catalogue.py) and the spelling vocabulary (app/search/spelling.py). The
search itself writes no SQL: it asks here for rows and the engine for matches.

Ids come back as `group_concat` text parsed by orjson: one row per list instead of
one per paper, about ten times faster on 165k papers than fetching rows.
"""

from array import array
from dataclasses import dataclass
from datetime import date

import orjson

from app.db import catalogue_version, is_postgres, reader
from app.db import check_deadline as db_check_deadline
from app.db import file_identity as db_file_identity
from app.db import identity as db_identity
from app.settings import get_settings


def file_identity(conn, path) -> tuple[int, int] | None:
    """(device, inode) of the database file `conn` reads, else of the file now at `path`."""
    return db_identity(conn) or db_file_identity(str(path))


def location(conn, path=None) -> str:
    """Which database `conn` reads, as a cache key: the SQLite file's path (by default the
    configured one), or the PostgreSQL URL it is connected to."""
    if is_postgres(conn):
        return conn.url
    return str(path or get_settings().database_path)


def version(conn) -> int | None:
    """PostgreSQL's catalogue version, which every write bumps in its own transaction (so an
    app server on another machine, reading a replica, sees that the catalogue changed);
    None on SQLite, whose file itself says so (app/search/catalogue.py)."""
    return catalogue_version(conn) if is_postgres(conn) else None


def check_deadline() -> None:
    """The request's time limit, for the search's long Python work (app/db.py)."""
    db_check_deadline()


def connection():
    """This thread's read-only connection (app/db.py). The search takes its connection from
    here and hands it to the engine and back to the read layer: it imports no store module."""
    return reader()


def _ids(concatenated: str | None) -> list[int]:
    return orjson.loads("[" + concatenated + "]") if concatenated else []


@dataclass(frozen=True)
class TagRow:
    id: int
    slug: str
    name: str
    kind: str
    description: str
    rule: str
    paper_ids: list[int]


@dataclass(frozen=True)
class Listing:
    """One state of the catalogue, every part read in the same transaction."""
    size: int               # one more than the highest paper id
    newest: list[int]       # ids of dated papers, newest first (ties: higher id first)
    days: array             # their publication days (date ordinals), in the same order
    undated: list[int]      # ids of undated papers, higher id first
    years: dict[int, list[int]]
    with_arxiv_id: list[int]
    by_title: list[int]     # every id by normalized title, then id
    tags: list[TagRow]
    upvotes: list[tuple[int, int]]  # (id, upvotes) of the papers a source gave upvotes
    version: int | None = None  # PostgreSQL's catalogue version this state is (see `version`)


def listing(conn) -> Listing:
    """Every paper's id in each order and set the in-memory catalogue keeps."""
    conn.execute("BEGIN")  # one read transaction: every part describes the same state
    try:
        state = version(conn)  # the version this snapshot shows, not one read before it
        size = (conn.execute("SELECT max(id) FROM papers").fetchone()[0] or 0) + 1
        newest = _ids(conn.execute(
            "SELECT group_concat(id) FROM (SELECT id FROM papers WHERE published IS NOT NULL"
            " ORDER BY published DESC, id DESC) AS dated").fetchone()[0])
        days = array("i", (date.fromisoformat(str(day)[:10]).toordinal() for day in (conn.execute(
            "SELECT group_concat(published) FROM (SELECT published FROM papers WHERE published IS NOT NULL"
            " ORDER BY published DESC, id DESC) AS dated").fetchone()[0] or "").split(",") if day))
        undated = _ids(conn.execute(
            "SELECT group_concat(id) FROM (SELECT id FROM papers WHERE published IS NULL"
            " ORDER BY id DESC) AS undated").fetchone()[0])
        years = {int(year): _ids(ids) for year, ids in conn.execute(
            "SELECT year, group_concat(id) FROM papers WHERE year IS NOT NULL GROUP BY year")}
        with_arxiv_id = _ids(conn.execute(
            "SELECT group_concat(id) FROM papers WHERE arxiv_id IS NOT NULL").fetchone()[0])
        by_title = _ids(conn.execute(  # the covering index on title_norm makes this cheap
            "SELECT group_concat(id) FROM (SELECT id FROM papers ORDER BY title_norm, id) AS titled").fetchone()[0])
        upvotes = [(row[0], row[1]) for row in conn.execute(
            "SELECT id, upvotes FROM papers WHERE upvotes IS NOT NULL")]
        tag_ids = {row[0]: _ids(row[1]) for row in conn.execute(
            "SELECT tag_id, group_concat(paper_id) FROM paper_tags GROUP BY tag_id")}
        tags = [TagRow(row[0], row[1], row[2], row[3], row[4] or "", row[5] or "", tag_ids.get(row[0], []))
                for row in conn.execute("SELECT id, slug, name, kind, description, rule FROM tags")]
    finally:
        conn.execute("COMMIT")
    return Listing(size, newest, days, undated, years, with_arxiv_id, by_title, tags, upvotes, state)


def author_paper_ids(conn, slug: str) -> list[int]:
    """The ids of the papers of the author with this slug."""
    if "\x00" in slug:  # no slug holds NUL (PostgreSQL refuses to compare one): nobody's
        return []
    return _ids(conn.execute(
        "SELECT group_concat(pa.paper_id) FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
        " WHERE a.slug = ?", (slug,)).fetchone()[0])


def ids_of(conn, arxiv_id: str | None, key: str | None) -> list[int]:
    """The ids of the papers with this arXiv id or this key (an `id:` search)."""
    if "\x00" in f"{arxiv_id}{key}":  # no key holds NUL (PostgreSQL refuses to compare one)
        return []
    return _ids(conn.execute("SELECT group_concat(id) FROM papers WHERE arxiv_id = ? OR key = ?",
                             (arxiv_id, key)).fetchone()[0])


def title_words(conn) -> str:
    """Every paper's normalized title, space-separated: the words people write."""
    return conn.execute("SELECT group_concat(title_norm, ' ') FROM papers").fetchone()[0] or ""


def author_names(conn) -> str:
    """Every paper's authors, space-separated: the words of names as papers sign them."""
    return conn.execute("SELECT group_concat(authors, ' ') FROM papers").fetchone()[0] or ""


def abstract_sample(conn, step: int) -> str:
    """The abstracts of every `step`-th paper (by id), space-separated."""
    return conn.execute("SELECT group_concat(abstract, ' ') FROM papers WHERE id % ? = 0",
                        (step,)).fetchone()[0] or ""
