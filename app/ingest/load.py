"""Idempotent upsert of parsed records into SQLite, one transaction per batch.

A batch is written, indexed (FTS5 triggers) and tagged in one transaction, so
a crash at any point leaves only whole batches behind, and re-running the same
input completes the work: unchanged records are recognised by a content hash.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from app import tagging
from app.db import is_postgres, transaction
from app.engine import get_engine
from app.ingest.categories import category_name
from app.ingest.records import PaperIn, RecordError

BATCH_SIZE = 10_000  # per transaction: larger batches amortise tagging and commits
SQL_CHUNK = 5_000  # stays below SQLite's bound-parameter limit

ErrorReporter = Callable[[int, RecordError], None]


@dataclass
class Stats:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def add(self, other: "Stats") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> str:
        return (f"read {self.read:,}, inserted {self.inserted:,}, updated {self.updated:,}, "
                f"unchanged {self.unchanged:,}, skipped {self.skipped:,}")


_PAPER_COLUMNS = "id, key, arxiv_id, title, abstract, authors, categories, published, url, content_hash"


def content_hash(values: dict) -> str:
    parts = (values["key"], values["arxiv_id"] or "", values["title"], values["abstract"],
             values["authors"], values["categories"], values["published"] or "", values["url"] or "")
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Loader:
    """Writes batches of records; one instance per ingest run."""

    def __init__(self, conn, source: str, on_error: ErrorReporter | None = None):
        self.conn = conn
        self.engine = get_engine(conn)
        self.source = source
        self.on_error = on_error or (lambda line, err: None)
        self.stats = Stats()
        self._category_ids: dict[str, int] = {}
        self._changed_ids: set[int] = set()  # papers written in the current batch
        self._by_arxiv: dict = {}            # arXiv id -> stored row, for the current batch
        self._has_idless = True
        self._author_ids: dict[str, int] = {}  # author slug -> id, grows over the run
        self._inserted_ids: set[int] = set()   # new in this batch: nothing old to delete
        if not is_postgres(conn):
            # Random inserts into the author and tag indexes thrash SQLite's small default cache.
            conn.execute("PRAGMA cache_size = -262144")

    def load(self, parsed: Iterable[tuple[int, PaperIn | RecordError]],
             batch_size: int = BATCH_SIZE, progress: Callable[[int], None] | None = None) -> Stats:
        for batch in batched(parsed, batch_size):
            good: list[tuple[int, PaperIn]] = []
            for line, item in batch:
                self.stats.read += 1
                if isinstance(item, RecordError):
                    self.stats.skipped += 1
                    self.on_error(line, item)
                else:
                    good.append((line, item))
            if good:
                with transaction(self.conn):
                    self._write_batch(good)
            if progress:
                progress(len(batch))
        return self.stats

    # -- one batch, inside a transaction ------------------------------------------------

    def _write_batch(self, records: list[tuple[int, PaperIn]]) -> None:
        # Bulk path: the per-row FTS triggers are dropped for the batch and the index
        # is written in one statement, then the triggers come back -- all inside this
        # transaction, so no committed state has the table and its index out of step.
        sync = self.engine.suspend_sync(self.conn)
        now = _now()
        author_changes: dict[int, PaperIn] = {}
        category_changes: dict[int, tuple[str, ...]] = {}
        self._prefetch(records)
        for _line, rec in records:
            row = self._find_existing(rec)
            values = self._merged_values(rec, row)
            if row is None:
                paper_id = self._insert(values, now)
                self.stats.inserted += 1
            elif row["content_hash"] == values["content_hash"]:
                self.stats.unchanged += 1
                continue
            else:
                paper_id = row["id"]
                self._update(row, values, now)
                self.stats.updated += 1
            if values["arxiv_id"]:  # later records of this batch must see this one
                self._by_arxiv[values["arxiv_id"]] = {**values, "id": paper_id}
            if rec.authors is not None:
                author_changes[paper_id] = rec
            if rec.categories is not None:
                category_changes[paper_id] = rec.categories
        self.engine.index(self.conn, sorted(self._changed_ids))
        self.engine.resume_sync(self.conn, sync)
        self._write_authors(author_changes)
        self._write_categories(category_changes)
        if self._changed_ids:
            tagging.retag(self.conn, sorted(self._changed_ids))
        self._changed_ids.clear()
        self._inserted_ids.clear()

    def _prefetch(self, records: list[tuple[int, PaperIn]]) -> None:
        """Look up the batch's arXiv ids in a few queries rather than one per record."""
        self._by_arxiv = {}
        ids = [rec.arxiv_id for _line, rec in records if rec.arxiv_id]
        for start in range(0, len(ids), SQL_CHUNK):
            chunk = ids[start:start + SQL_CHUNK]
            for row in self.conn.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE arxiv_id IN"
                                         f" ({','.join('?' * len(chunk))})", chunk):
                self._by_arxiv[row["arxiv_id"]] = row
        # Only a paper without an id can be merged by title into an arXiv record.
        self._has_idless = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM papers WHERE arxiv_id IS NULL)").fetchone()[0]

    def _find_existing(self, rec: PaperIn):
        """The paper this record describes: same arXiv id, same key or alias, or same title."""
        q = self.conn.execute
        if rec.arxiv_id:
            row = self._by_arxiv.get(rec.arxiv_id)
            if row is None and self._has_idless:
                # A paper first known without an id (e.g. from a listing page) gains one.
                row = q(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE title_norm = ? AND arxiv_id IS NULL "
                        "ORDER BY id LIMIT 1", (rec.title_norm,)).fetchone()
            return row
        row = q(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE key = ?", (rec.key,)).fetchone()
        if row is None:
            row = q(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id = "
                    "(SELECT paper_id FROM aliases WHERE key = ?)", (rec.key,)).fetchone()
        if row is None:
            row = q(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE title_norm = ? ORDER BY id LIMIT 1",
                    (rec.title_norm,)).fetchone()
        return row

    @staticmethod
    def _merged_values(rec: PaperIn, row) -> dict:
        """The record's fields over the stored ones: what a source does not say is kept."""
        arxiv_id = rec.arxiv_id or (row["arxiv_id"] if row else None)
        values = {
            "key": arxiv_id or (row["key"] if row else rec.key),
            "arxiv_id": arxiv_id,
            "title": rec.title,
            "abstract": rec.abstract,
            "authors": ", ".join(rec.authors) if rec.authors is not None else (row["authors"] if row else ""),
            "categories": (" ".join(rec.categories) if rec.categories is not None
                           else (row["categories"] if row else "")),
            "published": (rec.published.isoformat() if rec.published
                          else (row["published"] if row else None)),
            "url": rec.url or (row["url"] if row else None),
            "title_norm": rec.title_norm,
        }
        values["year"] = int(values["published"][:4]) if values["published"] else None
        values["content_hash"] = content_hash(values)
        return values

    def _insert(self, values: dict, now: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO papers (key, arxiv_id, title, abstract, authors, categories, published, year,"
            " added_at, updated_at, source, url, title_norm, content_hash)"
            " VALUES (:key, :arxiv_id, :title, :abstract, :authors, :categories, :published, :year,"
            " :now, :now, :source, :url, :title_norm, :content_hash) RETURNING id",
            {**values, "now": now, "source": self.source})
        paper_id = cur.fetchone()[0]
        self._changed_ids.add(paper_id)
        self._inserted_ids.add(paper_id)
        return paper_id

    def _update(self, row, values: dict, now: str) -> None:
        paper_id = row["id"]
        if values["key"] != row["key"]:
            # The old permalink keeps working: it becomes an alias of the new key.
            self.conn.execute("DELETE FROM aliases WHERE key = ?", (values["key"],))
            self.conn.execute("INSERT INTO aliases (key, paper_id) VALUES (?, ?)"
                              " ON CONFLICT (key) DO UPDATE SET paper_id = excluded.paper_id",
                              (row["key"], paper_id))
        self.conn.execute(
            "UPDATE papers SET key = :key, arxiv_id = :arxiv_id, title = :title, abstract = :abstract,"
            " authors = :authors, categories = :categories, published = :published, year = :year,"
            " url = :url, title_norm = :title_norm, content_hash = :content_hash, updated_at = :now"
            " WHERE id = :id", {**values, "now": now, "id": paper_id})
        if paper_id not in self._changed_ids:  # its indexed text is the stored one
            self.engine.unindex(self.conn, paper_id, row["title"], row["abstract"], row["authors"])
        self._changed_ids.add(paper_id)

    def _write_authors(self, changes: dict[int, PaperIn]) -> None:
        if not changes:
            return
        names: dict[str, str] = {}
        for rec in changes.values():  # the first spelling met wins, as it does across batches
            for slug, name in zip(rec.author_slugs, rec.authors):
                names.setdefault(slug, name)
        self._resolve_authors(names)
        self.conn.executemany("DELETE FROM paper_authors WHERE paper_id = ?",
                              [(p,) for p in changes if p not in self._inserted_ids])
        rows = []
        for paper_id, rec in changes.items():
            seen: set[int] = set()
            for slug in rec.author_slugs:
                author_id = self._author_ids[slug]
                if author_id not in seen:  # the same name twice in one list is one author
                    seen.add(author_id)
                    rows.append((paper_id, len(seen) - 1, author_id))
        self.conn.executemany("INSERT INTO paper_authors (paper_id, position, author_id) VALUES (?, ?, ?)", rows)

    def _resolve_authors(self, names: dict[str, str]) -> None:
        """Make sure every slug has an author row and its id is in the run's cache."""
        missing = [slug for slug in names if slug not in self._author_ids]
        for start in range(0, len(missing), SQL_CHUNK):
            chunk = missing[start:start + SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            found = dict(self.conn.execute(f"SELECT slug, id FROM authors WHERE slug IN ({marks})", chunk))
            self._author_ids.update(found)
            new = [(names[slug], slug) for slug in chunk if slug not in found]
            self.conn.executemany("INSERT INTO authors (name, slug) VALUES (?, ?)", new)
            if new:
                marks = ",".join("?" * len(new))
                self._author_ids.update(self.conn.execute(
                    f"SELECT slug, id FROM authors WHERE slug IN ({marks})", [slug for _name, slug in new]))

    def _write_categories(self, changes: dict[int, tuple[str, ...]]) -> None:
        if not changes:
            return
        for code in {c for cats in changes.values() for c in cats} - self._category_ids.keys():
            self.conn.execute("INSERT OR IGNORE INTO tags (slug, name, kind, description, rule)"
                              " VALUES (?, ?, 'category', ?, '')",
                              (code, category_name(code), f"arXiv category {code}"))
            self._category_ids[code] = self.conn.execute(
                "SELECT id FROM tags WHERE slug = ?", (code,)).fetchone()[0]
        self.conn.executemany(
            "DELETE FROM paper_tags WHERE paper_id = ? AND tag_id IN (SELECT id FROM tags WHERE kind = 'category')",
            [(p,) for p in changes if p not in self._inserted_ids])
        self.conn.executemany("INSERT OR IGNORE INTO paper_tags (tag_id, paper_id) VALUES (?, ?)",
                              [(self._category_ids[c], p) for p, cats in changes.items() for c in cats])
