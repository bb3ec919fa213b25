"""Idempotent upsert of parsed records into SQLite, one transaction per batch.

A batch is written, indexed (FTS5 triggers) and tagged in one transaction, so
a crash at any point leaves only whole batches behind, and re-running the same
input completes the work: unchanged records are recognised by a content hash,
and JSON Lines records by the hash of their line before they are even parsed
(app/ingest/lines.py).

A load into an empty catalogue takes the bulk path instead: one transaction for
the whole input, the index built once from the rows and the topics tagged once
at its end. A crash leaves the catalogue empty, never half indexed.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count, islice, repeat

from app import tagging
from app.allocation import bulk_work
from app.db import ids_follow, is_postgres, transaction
from app.engine import get_engine
from app.ingest.categories import category_name
from app.ingest.classify import classification_label
from app.ingest.lines import Hashed, Seen
from app.ingest.records import Deleted, PaperIn, RecordError, abstracts_agree

BATCH_SIZE = 10_000  # per transaction: larger batches amortise tagging and commits
SQL_CHUNK = 5_000  # stays below SQLite's bound-parameter limit

ErrorReporter = Callable[[int, RecordError], None]
DropReporter = Callable[[int, PaperIn], None]
NoteReporter = Callable[[int, str], None]


@dataclass
class Stats:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0   # withdrawn by the source (OAI-PMH deleted records)
    kept: int = 0      # loaded with one or more fields dropped; also counted above
    apart: int = 0     # no id, an arXiv paper's title, another abstract: loaded as its own paper

    def add(self, other: "Stats") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> str:
        # read = inserted + updated + unchanged + skipped + deleted; "kept with drops" is
        # a part of the loaded ones, said apart so it is never mistaken for a loss.
        text = (f"read {self.read:,}, inserted {self.inserted:,}, updated {self.updated:,}, "
                f"unchanged {self.unchanged:,}, skipped {self.skipped:,}")
        if self.deleted:
            text += f", deleted {self.deleted:,}"
        text += f"; kept with dropped fields {self.kept:,}"
        if self.apart:
            text += f"; loaded apart from a same-titled arXiv paper {self.apart:,}"
        return text


_PAPER_COLUMNS = ("id, key, arxiv_id, title, abstract, authors, categories, published, url, content_hash,"
                  " classifications, upvotes, line_hash, revised")


def content_hash(values: dict) -> str:
    parts = (values["key"], values["arxiv_id"] or "", values["title"], values["abstract"],
             values["authors"], values["categories"], values["published"] or "", values["url"] or "")
    # Fields added later join the hash only when set, so papers stored before keep their hash.
    if values["classifications"]:
        parts += ("classifications=" + values["classifications"],)
    if values["upvotes"] is not None:
        parts += (f"upvotes={values['upvotes']}",)
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def _day(value) -> str | None:
    """A stored date as YYYY-MM-DD (SQLite gives text, PostgreSQL a date)."""
    return value if value is None or isinstance(value, str) else value.isoformat()


def _older(rec: PaperIn, row) -> bool:
    """Whether the record is an earlier version than the one the paper holds (both dated)."""
    held = _day(row["revised"])
    return rec.revised is not None and held is not None and rec.revised.isoformat() < held


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Loader:
    """Writes batches of records; one instance per ingest run."""

    def __init__(self, conn, source: str, on_error: ErrorReporter | None = None,
                 on_drop: DropReporter | None = None, on_note: NoteReporter | None = None,
                 begin: Callable[[], AbstractContextManager] | None = None):
        self.conn = conn
        # How a write transaction begins: `papers ingest` waits for another writer (ingest/lock.py).
        self.begin = begin or (lambda: transaction(conn))
        self.committed_line = 0  # the last input line whose batch is committed
        self.engine = get_engine(conn)
        self.source = source
        self.on_error = on_error or (lambda line, err: None)
        self.on_drop = on_drop or (lambda line, rec: None)
        self.on_note = on_note or (lambda line, text: None)
        self.stats = Stats()
        self._code_ids: dict[str, int] = {}  # category or classification code -> tag id
        self._changed_ids: set[int] = set()  # papers written in the current batch
        self._by_arxiv: dict = {}            # arXiv id -> stored row, for the current batch
        self._has_idless = True
        self._author_ids: dict[str, int] = {}  # author slug -> id, grows over the run
        self._inserted_ids: set[int] = set()   # new in this batch: nothing old to delete
        self._bulk = False  # inside the one transaction of a load into an empty catalogue
        self._pending: list[dict] = []  # bulk path: new rows not written yet (one executemany)
        self._next_id = 0               # bulk path: ids handed out here, rows written later
        self._next_author_id = 0
        self._loaded_arxiv: set[str] = set()  # bulk path: the arXiv ids this load has written
        if not is_postgres(conn):
            # Random inserts into the author and tag indexes thrash SQLite's small default cache.
            conn.execute("PRAGMA cache_size = -262144")

    def load(self, parsed: Iterable[tuple[int, PaperIn | RecordError | Deleted | Seen | Hashed]],
             batch_size: int = BATCH_SIZE, progress: Callable[[int], None] | None = None,
             bulk: bool = False) -> Stats:
        """Load every record. `bulk`: when the catalogue is empty, load it all in one
        transaction, indexing and tagging once at the end (a crash leaves it empty)."""
        parsed = iter(parsed)
        with bulk_work():
            if bulk:
                with self.begin():
                    # Checked under the write lock: nobody can add a paper before we commit.
                    if self.conn.execute("SELECT NOT EXISTS (SELECT 1 FROM papers)").fetchone()[0]:
                        self._load_into_empty(parsed, batch_size, progress)
                        return self.stats
            for batch in batched(parsed, batch_size):
                self.load_batch(batch)
                if progress:
                    progress(len(batch))
        return self.stats

    def _load_into_empty(self, parsed, batch_size: int, progress) -> None:
        """The bulk path, inside the caller's transaction: rows and links batch by
        batch with no index triggers, then one index build and one tagging pass over
        everything (cheaper than adding to the index and tagging batch by batch)."""
        sync = self.engine.suspend_sync(self.conn)
        self._bulk = True
        # Nobody else writes until we commit: ids are handed out here, with no look-ups.
        self._next_id = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM papers").fetchone()[0]
        self._author_ids.update(self.conn.execute("SELECT slug, id FROM authors"))
        self._next_author_id = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM authors").fetchone()[0]
        deferred = self._drop_deferred_indexes()
        try:
            for batch in batched(parsed, batch_size):
                good, gone = self._sort_batch(batch)
                if good:
                    self._write_batch(good)
                if gone:
                    self._delete(gone)
                if progress:
                    progress(len(batch))
            # A large load's evidence judges start now: their processes import the app on the core
            # the parsing process has freed while this one builds the indexes.
            judges = (tagging.Judges.start(tagging.evidence_rules(self.conn))
                      if self.stats.inserted >= tagging.PARALLEL_PAIRS else None)
            try:
                for sql in deferred:  # built once from sorted keys, before anything reads them
                    self.conn.execute(sql)
                ids_follow(self.conn, "papers", "authors")  # ids were handed out here
                self.engine.rebuild(self.conn)
                self.engine.resume_sync(self.conn, sync)
                tagging.retag(self.conn, judges=judges)  # every paper: the catalogue is this load
            finally:
                if judges is not None:
                    judges.close()
        finally:
            self._bulk = False
            self._loaded_arxiv.clear()

    # Look-up indexes the load itself never reads: built once at the end of a load into an
    # empty catalogue (from sorted keys) rather than entry by entry, in the same transaction,
    # so no committed state lacks them. The indexes the loader reads (arXiv id, key, title,
    # a paper's tags) and the unique ones stay.
    DEFERRED_INDEXES = ("ix_papers_published", "ix_papers_year", "ix_papers_line_hash",
                        "ix_paper_authors_author")

    def _drop_deferred_indexes(self) -> list[str]:
        if is_postgres(self.conn):  # SQLite's catalogue of indexes; PostgreSQL keeps its own
            return []
        names = json.dumps(self.DEFERRED_INDEXES)
        found = self.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN"
                                  " (SELECT value FROM json_each(?))", (names,)).fetchall()
        for name, _sql in found:
            self.conn.execute(f'DROP INDEX "{name}"')
        return [sql for _name, sql in found]

    def load_batch(self, batch: list[tuple[int, PaperIn | RecordError | Deleted | Seen | Hashed]]) -> None:
        """Write one batch, committed when this returns."""
        good, gone = self._sort_batch(batch)
        if good:
            with self.begin():
                self._write_batch(good)
        if gone:
            with self.begin():
                self._delete(gone)
        if batch:
            self.committed_line = batch[-1][0]

    def _sort_batch(self, batch) -> tuple[list[tuple[int, PaperIn, bytes | None]], list[str]]:
        """Count and report the batch's items; returns the records to write (with the
        hash of their line, if any) and the arXiv ids to delete."""
        good: list[tuple[int, PaperIn, bytes | None]] = []
        deleted: dict[str, int] = {}  # arXiv id -> position of its deletion in the batch
        last_seen: dict[str, int] = {}
        for position, (line, item) in enumerate(batch):
            self.stats.read += 1
            line_hash = None
            if isinstance(item, Seen):  # the catalogue holds this very line's record
                self.stats.unchanged += 1
                continue
            if isinstance(item, Hashed):
                item, line_hash = item.record, item.line_hash
            if isinstance(item, RecordError):
                self.stats.skipped += 1
                self.on_error(line, item)
            elif isinstance(item, Deleted):
                self.stats.deleted += 1
                deleted[item.arxiv_id] = position
            else:
                # A line's hash stands for its paper only when the record is taken whole and
                # found by its arXiv id (so the same line always reaches the same paper).
                good.append((line, item, line_hash if item.arxiv_id and not item.dropped else None))
                if item.arxiv_id:
                    last_seen[item.arxiv_id] = position
                if item.dropped:
                    self.stats.kept += 1
                    self.on_drop(line, item)
        # A deletion followed by a new version of the same paper in the batch is outdated.
        gone = [arxiv_id for arxiv_id, at in deleted.items() if last_seen.get(arxiv_id, -1) < at]
        return good, gone

    def _delete(self, arxiv_ids: list[str]) -> None:
        # Outside the bulk path the engine keeps its index in step row by row, and the links
        # (authors, tags, aliases) go with the paper by their foreign keys.
        self._flush()
        for start in range(0, len(arxiv_ids), SQL_CHUNK):
            chunk = arxiv_ids[start:start + SQL_CHUNK]
            self.conn.execute(f"DELETE FROM papers WHERE arxiv_id IN ({','.join('?' * len(chunk))})", chunk)

    # -- one batch, inside a transaction ------------------------------------------------

    def _write_batch(self, records: list[tuple[int, PaperIn, bytes | None]]) -> None:
        # The per-row FTS triggers are dropped for the batch and the index is written in
        # one statement, then the triggers come back -- all inside this transaction, so
        # no committed state has the table and its index out of step. On the bulk path
        # they are already dropped, and the index is built once at the end.
        sync = None if self._bulk else self.engine.suspend_sync(self.conn)
        now = _now()
        author_changes: dict[int, PaperIn] = {}
        category_changes: dict[int, tuple[str, ...]] = {}
        classification_changes: dict[int, tuple[str, ...]] = {}
        self._prefetch(records)
        for line, rec, line_hash in records:
            if self._pending and (not rec.arxiv_id or self._has_idless):
                self._flush()  # _find_existing may look the record up in the table
            row = self._find_existing(rec)
            if row is not None and self._other_paper(rec, row):
                self.stats.apart += 1
                self.on_note(line, f"loaded as its own paper: same title as arXiv {row['arxiv_id']}, "
                                   "but the abstracts differ")
                # Its permalink is the title's: an alias of that name (an earlier merge) now names it.
                self.conn.execute("DELETE FROM aliases WHERE key = ?", (rec.key,))
                row = None
            if row is not None and _older(rec, row):
                # An earlier version than the one held (an older file, or v1 before v2 in one file):
                # the newer text stays, and reading the same input again changes nothing.
                self.stats.unchanged += 1
                continue
            values = self._merged_values(rec, row)
            values["line_hash"] = line_hash
            if row is None:
                paper_id = self._insert(values, now)
                self.stats.inserted += 1
            elif row["content_hash"] == values["content_hash"]:
                self.stats.unchanged += 1
                if (line_hash is not None and row["line_hash"] != line_hash) or values["revised"] != _day(row["revised"]):
                    # Read by an older parser, or from another line: next time this line is seen; and
                    # the same text newly dated (a catalogue from before dates were kept, a new version
                    # that changed no field kept here).
                    self.conn.execute("UPDATE papers SET line_hash = coalesce(?, line_hash), revised = ? WHERE id = ?",
                                      (line_hash, values["revised"], row["id"]))
                continue
            else:
                paper_id = row["id"]
                self._update(row, values, now)
                self.stats.updated += 1
            if values["arxiv_id"]:  # later records of this batch must see this one
                self._by_arxiv[values["arxiv_id"]] = {**values, "id": paper_id}
                if self._bulk:
                    self._loaded_arxiv.add(values["arxiv_id"])
            else:  # and an arXiv record of the same title later in this batch must look for it
                self._has_idless = True
            if rec.authors is not None:
                author_changes[paper_id] = rec
            if rec.categories is not None:
                category_changes[paper_id] = rec.categories
            if rec.classifications is not None:
                classification_changes[paper_id] = rec.classifications
        self._flush()
        if not self._bulk:
            self.engine.index(self.conn, sorted(self._changed_ids))
            self.engine.resume_sync(self.conn, sync)
        self._write_authors(author_changes)
        self._write_codes(category_changes, "category")
        self._write_codes(classification_changes, "classification")
        if self._changed_ids and not self._bulk:
            tagging.retag(self.conn, sorted(self._changed_ids))
        self._changed_ids.clear()
        self._inserted_ids.clear()

    def _prefetch(self, records: list[tuple[int, PaperIn, bytes | None]]) -> None:
        """Look up the batch's arXiv ids in a few queries rather than one per record."""
        self._by_arxiv = {}
        ids = [rec.arxiv_id for _line, rec, _hash in records if rec.arxiv_id]
        if self._bulk:  # the catalogue was empty: only a paper this load wrote can be found
            ids = [i for i in ids if i in self._loaded_arxiv]
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
    def _other_paper(rec: PaperIn, row) -> bool:
        """A record without an id found by title (or its alias) in an arXiv paper is that paper only
        when the abstracts agree; otherwise two papers share a title, and neither may overwrite the other."""
        return (rec.arxiv_id is None and row["arxiv_id"] is not None and row["key"] != rec.key
                and not abstracts_agree(rec.abstract, row["abstract"]))

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
            "classifications": (" ".join(rec.classifications) if rec.classifications is not None
                                else (row["classifications"] if row else "")),
            "upvotes": rec.upvotes if rec.upvotes is not None else (row["upvotes"] if row else None),
            "url": rec.url or (row["url"] if row else None),
            "title_norm": rec.title_norm,
            "revised": max((d for d in (rec.revised and rec.revised.isoformat(), row and _day(row["revised"])) if d),
                           default=None),
        }
        values["year"] = int(values["published"][:4]) if values["published"] else None
        values["content_hash"] = content_hash(values)
        return values

    _INSERT = ("INSERT INTO papers (id, key, arxiv_id, title, abstract, authors, categories, published, year,"
               " added_at, updated_at, source, url, title_norm, content_hash, classifications, upvotes, line_hash,"
               " revised)"
               " VALUES (:id, :key, :arxiv_id, :title, :abstract, :authors, :categories, :published, :year,"
               " :now, :now, :source, :url, :title_norm, :content_hash, :classifications, :upvotes, :line_hash,"
               " :revised)")

    # One row at a time: the database gives the id (SQLite and PostgreSQL alike).
    _INSERT_ONE = _INSERT.replace("(id, key,", "(key,").replace("(:id, :key,", "(:key,") + " RETURNING id"

    def _insert(self, values: dict, now: str) -> int:
        if self._bulk:  # written with the batch's other new rows, in one executemany
            paper_id = self._next_id
            self._next_id += 1
            self._pending.append({**values, "id": paper_id, "now": now, "source": self.source})
        else:
            paper_id = self.conn.execute(self._INSERT_ONE, {**values, "now": now,
                                                            "source": self.source}).fetchone()[0]
        self._changed_ids.add(paper_id)
        self._inserted_ids.add(paper_id)
        return paper_id

    def _flush(self) -> None:
        if self._pending:
            self.conn.executemany(self._INSERT, self._pending)
            self._pending.clear()

    def _update(self, row, values: dict, now: str) -> None:
        self._flush()
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
            " url = :url, title_norm = :title_norm, content_hash = :content_hash, updated_at = :now,"
            " classifications = :classifications, upvotes = :upvotes, line_hash = :line_hash, revised = :revised"
            " WHERE id = :id", {**values, "now": now, "id": paper_id})
        # Its indexed text is the stored one, unless written in this batch, or on the bulk
        # path (nothing is indexed before the end).
        if paper_id not in self._changed_ids and not self._bulk:
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
        rows: list[tuple[int, int, int]] = []
        author_id = self._author_ids.__getitem__
        for paper_id, rec in changes.items():
            # The same name twice in one list is one author, at its first place.
            rows.extend(zip(repeat(paper_id), count(), dict.fromkeys(map(author_id, rec.author_slugs))))
        self.conn.executemany("INSERT INTO paper_authors (paper_id, position, author_id) VALUES (?, ?, ?)", rows)

    def _resolve_authors(self, names: dict[str, str]) -> None:
        """Make sure every slug has an author row and its id is in the run's cache."""
        missing = [slug for slug in names if slug not in self._author_ids]
        if self._bulk:  # every author is in the cache already: the new ones get the next ids
            new_ids = range(self._next_author_id, self._next_author_id + len(missing))
            self._next_author_id += len(missing)
            self.conn.executemany("INSERT INTO authors (id, name, slug) VALUES (?, ?, ?)",
                                  [(i, names[slug], slug) for i, slug in zip(new_ids, missing)])
            self._author_ids.update(zip(missing, new_ids))
            return
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

    def _write_codes(self, changes: dict[int, tuple[str, ...]], kind: str) -> None:
        """Link papers to their arXiv categories, or to their ACM/MSC classifications."""
        if not changes:
            return
        for code in {c for codes in changes.values() for c in codes} - self._code_ids.keys():
            if kind == "category":
                slug, name, description = code, category_name(code), f"arXiv category {code}"
            else:  # "msc:68T50" -> tag "msc-68T50", never one of the arXiv category facets
                slug = code.replace(":", "-", 1)
                name, description = classification_label(code)
            self.conn.execute("INSERT OR IGNORE INTO tags (slug, name, kind, description, rule)"
                              " VALUES (?, ?, ?, ?, '')", (slug, name, kind, description))
            self._code_ids[code] = self.conn.execute(
                "SELECT id FROM tags WHERE slug = ?", (slug,)).fetchone()[0]
        self.conn.executemany(
            "DELETE FROM paper_tags WHERE paper_id = ? AND tag_id IN (SELECT id FROM tags WHERE kind = ?)",
            [(p, kind) for p in changes if p not in self._inserted_ids])
        self.conn.executemany("INSERT OR IGNORE INTO paper_tags (tag_id, paper_id) VALUES (?, ?)",
                              [(self._code_ids[c], p) for p, codes in changes.items() for c in codes])
