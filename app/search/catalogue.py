"""The per-process catalogue: every paper, tag, year and date order as bitsets, and the
caches of one database state.

Getting a match set out of the engine is the expensive step, so it is done once per
query and cached here (by the engine's rendering of the text); the rest of a
query's filter (tags, tag prefixes, years, ids, under AND / OR / NOT) is evaluated
on these sets (`evaluate`), microseconds per tag where SQL took tens of milliseconds.

Its rows come from the read layer (app/paper_sets.py): no SQL is written here.
The `Catalogue` is rebuilt when the database file changes: every commit touches the
database or its WAL, so comparing (mtime, size) of both costs two `stat` calls per search;
a file replaced by another (a new inode) is a new catalogue too, and its identity is the one of
the file the connection actually reads (app/db.py follows the path), so a catalogue is never
built from one file and labelled with another. On PostgreSQL (perhaps a replica on
another machine) every write bumps the catalogue version in its own transaction: one
indexed read per search, and the listing reads the version of its own snapshot.
"""

import gc
import os
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
from cachetools import LRUCache

from app import paper_sets, plan
from app.search.bitsets import from_ids

MATCH_CACHE_SIZE = 64       # rendered text -> bitset, per catalogue (about 20 KB each at 165k papers)
PREDICATE_CACHE_SIZE = 64   # filter leaves the catalogue cannot answer from memory (ids)
LEAF_CACHE_SIZE = 512      # one phrase's BM25 contributions (ranking.py), beside the warmed ones
SCORE_CACHE_SIZE = 8       # a text tree's matches and scores, 1.5 MB each at 165k papers
RESULT_CACHE_SIZE = 64      # view -> finished SearchResult: popular views are answered without work
# Related papers: a term's papers (an int32 array). 32 MB holds every term the method may
# choose on 165k papers (those in up to 5% of them; the commonest 5,000 are 26 MB of it).
POSTINGS_CACHE_BYTES = 32 << 20


class Memo:
    """An LRU map shared by request threads; values are computed outside the lock and
    must be immutable (ints, tuples, frozen results): every thread gets the same object."""

    def __init__(self, size: int, getsizeof=None):
        # `getsizeof`: the size of a value, `size` then bounds their sum (bytes) instead of their count
        self._items: LRUCache = LRUCache(maxsize=size, getsizeof=getsizeof)
        self._lock = threading.Lock()

    def get_or(self, key, compute):
        with self._lock:
            try:
                return self._items[key]
            except KeyError:
                pass
        value = compute()
        with self._lock:
            self._items[key] = value
        return value

    def values(self) -> list:
        """A snapshot of the cached values (for checks: every one must be immutable)."""
        with self._lock:
            return list(self._items.values())

    def peek(self, key):
        """The value if cached (None otherwise), without computing it."""
        with self._lock:
            return self._items.get(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _words(bits: int, words: int) -> np.ndarray:
    """The first `words` 64-bit words of a bitset (ids past them: papers newer than the catalogue)."""
    bits &= (1 << (64 * words)) - 1
    return np.frombuffer(bits.to_bytes(8 * words, "little"), dtype="<u8")


@dataclass(frozen=True)
class TagSet:
    id: int
    slug: str
    name: str
    kind: str
    description: str
    rule: str
    bits: int
    count: int


@dataclass
class Catalogue:
    """What every search needs in memory: all ids, tags, years and orders as bitsets/arrays."""
    signature: tuple
    size: int                          # one more than the highest paper id
    universe: int                      # every paper
    tags: Mapping[str, TagSet]         # by slug
    tags_folded: Mapping[str, str]     # lower-cased slug -> slug
    years: Mapping[int, int]           # year -> bitset
    with_arxiv_id: int                 # papers that have an arXiv id (id: filters need it)
    newest: array                      # ids, newest first (undated last, by id)
    oldest: array                      # ids, oldest first (undated last, by id)
    date_rank: array                   # id -> position in `newest`
    days: array                        # publication day (ordinal) of each dated paper, in `newest` order
    dated: int                         # papers with a publication date
    by_title: array                    # ids by normalized title
    trending: array                    # ids by upvotes, most first, ties newest first; then the rest newest first
    upvoted: int                       # papers with upvotes (the "Trending" sort is offered when any)
    matches: Memo = field(default_factory=lambda: Memo(MATCH_CACHE_SIZE))
    predicates: Memo = field(default_factory=lambda: Memo(PREDICATE_CACHE_SIZE))
    results: Memo = field(default_factory=lambda: Memo(RESULT_CACHE_SIZE))
    # The engine's vocabulary (term -> papers), read on first use by related papers.
    vocabulary: Memo = field(default_factory=lambda: Memo(1))
    # Each term's papers as related papers walked them (engine.similar's cache), bounded in bytes.
    postings: Memo = field(default_factory=lambda: Memo(POSTINGS_CACHE_BYTES, getsizeof=lambda ids: ids.nbytes))
    leaves: Memo = field(default_factory=lambda: Memo(LEAF_CACHE_SIZE))
    scores: Memo = field(default_factory=lambda: Memo(SCORE_CACHE_SIZE))
    # The most frequent words' contributions, scored at start-up and never evicted.
    warm_leaves: dict = field(default_factory=dict)
    # Every tag's bitset as one column of 64-bit words (tag_counts), made on first use.
    _tag_rows: tuple | None = field(default=None, repr=False)

    @property
    def total(self) -> int:
        return self.universe.bit_count()

    def tag(self, slug: str) -> TagSet | None:
        found = self.tags.get(slug)
        if found is None:
            folded = self.tags_folded.get(slug.lower())
            found = self.tags.get(folded) if folded else None
        return found

    def tag_counts(self, bits: int) -> dict[str, int]:
        """How many papers of `bits` carry each tag, by slug.

        One vectorised AND and popcount over every tag's row at once: the loop of
        `(bits & tag.bits).bit_count()` it replaces cost 6-14 ms a search at 165k papers
        and 192 tags, the largest fixed cost of a search.
        """
        if self._tag_rows is None:
            words = (self.size + 63) // 64
            columns = np.zeros((words, len(self.tags)), dtype=np.uint64)  # a word's tags side by side
            for column, tag in enumerate(self.tags.values()):
                columns[:, column] = _words(tag.bits, words)
            self._tag_rows = (tuple(self.tags), columns)
        slugs, columns = self._tag_rows
        row = _words(bits, columns.shape[0])
        used = np.flatnonzero(row)
        if used.size < columns.shape[0] // 2:  # a specific query: only the words holding its papers
            columns, row = columns[used], row[used]
        counts = np.bitwise_count(columns & row[:, None]).sum(axis=0, dtype=np.int64)
        return dict(zip(slugs, counts.tolist()))

    def published_between(self, start: date | None, end: date | None) -> int:
        """Papers published from `start` to `end`, both included (None: open): two binary searches
        in the newest-first order, cached per catalogue."""
        def compute() -> int:
            days = self.days
            first = 0 if end is None else bisect_left(days, -end.toordinal(), key=lambda d: -d)
            last = len(days) if start is None else bisect_right(days, -start.toordinal(), key=lambda d: -d)
            return from_ids(self.newest[first:last], self.size) if first < last else 0
        return self.predicates.get_or(("published", start, end), compute)

    def author_papers(self, conn, slug: str) -> int:
        """The papers of the author with this slug (cached per catalogue)."""
        return self.predicates.get_or(("author", slug),
                                      lambda: from_ids(paper_sets.author_paper_ids(conn, slug), self.size))

    @property
    def latest_day(self) -> date | None:
        """The most recent publication day in the catalogue."""
        return date.fromordinal(self.days[0]) if self.days else None

    def day_before(self, day: date) -> date | None:
        """The latest publication day before `day` that has papers."""
        i = bisect_left(self.days, -(day.toordinal() - 1), key=lambda d: -d)
        return date.fromordinal(self.days[i]) if i < len(self.days) else None

    def match_bits(self, conn, engine, text: plan.Text) -> int:
        """The papers matching a text tree (cached per catalogue)."""
        return self.matches.get_or(engine.render(text),
                                   lambda: from_ids(engine.match_ids(conn, text), self.size))

    def evaluate(self, conn, engine, node: plan.Filter) -> int:
        """The papers a filter tree holds for."""
        return plan.evaluate(node, lambda leaf: self._resolve(conn, engine, leaf), self.universe)[0]

    def _resolve(self, conn, engine, leaf) -> tuple[int, int]:
        universe = self.universe
        if isinstance(leaf, plan.Matches):
            bits = self.match_bits(conn, engine, leaf.text)
            return bits, universe & ~bits
        if isinstance(leaf, plan.Tag):
            tag = self.tag(leaf.slug)
            bits = tag.bits if tag else 0
            return bits, universe & ~bits
        if isinstance(leaf, plan.TagPrefix):
            prefix, bits = plan.ascii_fold(leaf.prefix), 0
            for tag in self.tags.values():
                if plan.ascii_fold(tag.slug).startswith(prefix):
                    bits |= tag.bits
            return bits, universe & ~bits
        if isinstance(leaf, plan.Years):
            true = false = 0
            for year, bits in self.years.items():
                if leaf.holds(year):
                    true |= bits
                else:
                    false |= bits
            return true, false  # papers without a year are in neither
        if isinstance(leaf, plan.Published):
            true = self.published_between(leaf.start, leaf.end)
            return true, self.dated & ~true  # papers without a date are in neither
        if isinstance(leaf, plan.PaperId):
            true = self.predicates.get_or(
                leaf, lambda: from_ids(paper_sets.ids_of(conn, leaf.arxiv_id, leaf.key), self.size))
            # arxiv_id = ? is unknown (not false) for a paper without one, unless its key matched
            return true, self.with_arxiv_id & ~true
        raise TypeError(f"not a filter leaf: {leaf!r}")


def _signature(conn, where: str) -> tuple:
    # First the database (path and file identity, or URL): caches that outlive one state of
    # it (spelling) key on it. On PostgreSQL the state is the catalogue version.
    state = paper_sets.version(conn)
    if state is not None:
        return ((where, None), state)
    path = where
    parts: list = [(str(path), paper_sets.file_identity(conn, path))]
    for suffix in ("", "-wal"):
        try:
            st = os.stat(f"{path}{suffix}")
            parts += [st.st_mtime_ns, st.st_size, st.st_ino]
        except OSError:
            parts += [None, None, None]
    return tuple(parts)


_cache: dict[str, Catalogue] = {}
# A full garbage collection walks every object the process holds, the catalogue's among
# them, though they live until the database changes: at 165k papers each walk took ~50 ms
# and came a few times in a hundred searches, the slowest of them. The objects alive
# after a large build are set aside from those walks (they are still freed when released).
FREEZE_FROM = 20_000
_build_lock = threading.Lock()


def catalogue(conn, path: Path | None = None) -> Catalogue:
    """The catalogue of the database `conn` reads (the SQLite file at `path`, by default the
    configured one; or a PostgreSQL database), rebuilt if it changed since it was built."""
    where = paper_sets.location(conn, path)
    signature = _signature(conn, where)
    current = _cache.get(where)
    if current is not None and current.signature == signature:
        return current
    with _build_lock:
        current = _cache.get(where)
        if current is None or current.signature != signature:
            current = _build(conn, signature)
            _cache.clear()  # one database per process in practice; tests switch between many
            _cache[where] = current
            if current.size >= FREEZE_FROM:
                gc.freeze()
    return current


def current(conn, path: Path | None = None) -> Catalogue | None:
    """The catalogue built for the current state of `conn`'s database, or None: never builds."""
    where = paper_sets.location(conn, path)
    found = _cache.get(where)
    return found if found is not None and found.signature == _signature(conn, where) else None


def forget() -> None:
    """Drop every catalogue (and its caches): the next search rebuilds from the database."""
    with _build_lock:
        _cache.clear()


def _build(conn, signature: tuple) -> Catalogue:
    rows = paper_sets.listing(conn)
    if rows.version is not None:  # the version the listing's own snapshot showed
        signature = (signature[0], rows.version)
    size = rows.size
    tags = {row.slug: TagSet(row.id, row.slug, row.name, row.kind, row.description, row.rule,
                             from_ids(row.paper_ids, size), len(row.paper_ids)) for row in rows.tags}
    all_ids = rows.newest + rows.undated
    date_rank = array("i", bytes(array("i").itemsize * size))
    for position, paper_id in enumerate(all_ids):
        date_rank[paper_id] = position
    oldest = rows.newest[::-1] + rows.undated[::-1]
    newest_first = array("i", all_ids)
    popular = sorted(rows.upvotes, key=lambda row: (-row[1], date_rank[row[0]]))
    if popular:
        seen = {row[0] for row in popular}
        trending = array("i", [row[0] for row in popular] + [i for i in all_ids if i not in seen])
    else:  # no upvotes anywhere: the same order as newest, shared
        trending = newest_first
    return Catalogue(
        signature=signature, size=size, universe=from_ids(all_ids, size), tags=MappingProxyType(tags),
        tags_folded=MappingProxyType({slug.lower(): slug for slug in tags}),
        years=MappingProxyType({year: from_ids(ids, size) for year, ids in rows.years.items()}),
        with_arxiv_id=from_ids(rows.with_arxiv_id, size),
        newest=newest_first, oldest=array("i", oldest), date_rank=date_rank,
        days=rows.days, dated=from_ids(rows.newest, size),
        by_title=array("i", rows.by_title), trending=trending, upvoted=len(popular))
