"""Sets of papers as Python ints (bit i set = paper id i), and the per-database cache of them.

Why bitsets: on the 165k-paper corpus a broad query ("model") matches 128k papers.
Counting categories over that set with a GROUP BY join costs 50-100 ms; with the
match set as an int, each facet count is `(matches & tag).bit_count()`, about 20 µs
for a 165k-bit int, so all 150 tags cost ~3 ms. Filters (tags, years, exclusions)
are `&`, `|` and `& ~` on the same ints, and sorting by date walks a precomputed
newest-first order, keeping the members of the set (C-level iteration, no SQL sort).

Getting a match set out of SQLite is the expensive step, so it is done once per
query: `group_concat(rowid)` parsed by orjson (about 3x faster than fetching rows),
then one pass that writes '1's into a byte string read back by `int(s, 2)`.

The `Catalogue` holds, per database file, the tag and year bitsets and the date
order. It is rebuilt when the file changes: every commit touches the database or
its WAL, so comparing (mtime, size) of both costs two `stat` calls per search.
"""

import os
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import compress, islice
from pathlib import Path

import orjson

_TO_FLAGS = bytes.maketrans(b"01", b"\x00\x01")
MATCH_CACHE_SIZE = 64       # match expression -> bitset, per catalogue (about 20 KB each at 165k papers)
PREDICATE_CACHE_SIZE = 64
RANKING_CACHE_SIZE = 32     # (match, window) -> ids in relevance order, at most RANK_LIMIT of them
RESULT_CACHE_SIZE = 64      # view -> finished SearchResult: popular views are answered without work


# --- bitset primitives ---------------------------------------------------------------

def from_ids(ids, size: int) -> int:
    """The bitset of `ids` (non-negative ints); `size` bounds them, or is grown to."""
    if not ids:
        return 0
    flags = bytearray(b"0") * size
    try:
        for i in ids:
            flags[i] = 49  # "1"
    except IndexError:  # an id past `size` (a paper added since the catalogue was built)
        return from_ids(ids, max(ids) + 1)
    flags.reverse()
    return int(flags, 2)


def flags(bits: int, size: int) -> bytes:
    """One byte per id, 1 for members: `flags(b, n)[i]` tests membership in O(1)."""
    raw = bin(bits)[:1:-1].encode("ascii").translate(_TO_FLAGS) if bits else b""
    return raw + bytes(max(0, size - len(raw)))


def members(bits: int) -> list[int]:
    """The ids in a bitset, ascending."""
    if not bits:
        return []
    low = (bits & -bits).bit_length() - 1  # a window of recent ids: skip the empty low part
    raw = bin(bits >> low)[:1:-1].encode("ascii").translate(_TO_FLAGS)
    return list(compress(range(low, low + len(raw)), raw))


def top(bits: int, count: int) -> int:
    """The subset holding the `count` highest ids of `bits` (all of them if fewer)."""
    if bits.bit_count() <= count:
        return bits
    lo, hi = 0, bits.bit_length()  # invariant: (bits >> lo) has more than `count` members
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (bits >> mid).bit_count() >= count:
            lo = mid
        else:
            hi = mid
    if (bits >> hi).bit_count() >= count:
        lo = hi
    return (bits >> lo) << lo


def in_order(order, bits: int, start: int, count: int, size: int) -> list[int]:
    """Members of `bits` in the sequence `order` (all ids), skipping `start`, at most `count`."""
    if not bits or count <= 0:
        return []
    test = flags(bits, size)
    return list(islice(compress(order, map(test.__getitem__, order)), start, start + count))


def parse_ids(concatenated: str | None) -> list[int]:
    """The ids of a `group_concat(id)` result."""
    return orjson.loads("[" + concatenated + "]") if concatenated else []


# --- the per-database cache ----------------------------------------------------------

@dataclass
class TagSet:
    id: int
    slug: str
    name: str
    kind: str
    description: str
    rule: str
    bits: int
    count: int


class _Lru:
    """A small LRU map, safe to share between request threads (values computed outside the lock)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get_or(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Catalogue:
    """What every search needs in memory: all ids, tags, years and orders as bitsets/arrays."""
    signature: tuple
    size: int                          # one more than the highest paper id
    universe: int                      # every paper
    tags: dict[str, TagSet]            # by slug
    tags_folded: dict[str, str]        # lower-cased slug -> slug
    years: dict[int, int]              # year -> bitset
    newest: array                      # ids, newest first (undated last, by id)
    oldest: array                      # ids, oldest first (undated last, by id)
    date_rank: array                   # id -> position in `newest`
    by_title: array                    # ids by normalized title
    matches: _Lru = field(default_factory=lambda: _Lru(MATCH_CACHE_SIZE))
    predicates: _Lru = field(default_factory=lambda: _Lru(PREDICATE_CACHE_SIZE))
    rankings: _Lru = field(default_factory=lambda: _Lru(RANKING_CACHE_SIZE))
    results: _Lru = field(default_factory=lambda: _Lru(RESULT_CACHE_SIZE))

    @property
    def total(self) -> int:
        return self.universe.bit_count()

    def tag(self, slug: str) -> TagSet | None:
        found = self.tags.get(slug)
        if found is None:
            folded = self.tags_folded.get(slug.lower())
            found = self.tags.get(folded) if folded else None
        return found

    def fetch(self, conn, sql: str, params: tuple) -> int:
        """The bitset of the ids a `SELECT group_concat(...)` returns."""
        row = conn.execute(sql, params).fetchone()
        return from_ids(parse_ids(row[0]), self.size)


def _signature(path: Path) -> tuple:
    parts: list = [str(path)]
    for suffix in ("", "-wal"):
        try:
            st = os.stat(f"{path}{suffix}")
            parts += [st.st_mtime_ns, st.st_size, st.st_ino]
        except OSError:
            parts += [None, None, None]
    return tuple(parts)


_cache: dict[str, Catalogue] = {}
_build_lock = threading.Lock()


def catalogue(conn, path: Path) -> Catalogue:
    """The catalogue of the database at `path`, rebuilt if the file changed since it was built."""
    signature = _signature(path)
    current = _cache.get(str(path))
    if current is not None and current.signature == signature:
        return current
    with _build_lock:
        current = _cache.get(str(path))
        if current is None or current.signature != signature:
            current = _build(conn, signature)
            _cache.clear()  # one database per process in practice; tests switch between many
            _cache[str(path)] = current
    return current


def forget() -> None:
    """Drop every catalogue (and its caches): the next search rebuilds from the database."""
    with _build_lock:
        _cache.clear()


def _build(conn, signature: tuple) -> Catalogue:
    # One read transaction, so every part describes the same state of the database.
    conn.execute("BEGIN")
    try:
        size = (conn.execute("SELECT max(id) FROM papers").fetchone()[0] or 0) + 1
        newest = parse_ids(conn.execute(
            "SELECT group_concat(id) FROM (SELECT id FROM papers WHERE published IS NOT NULL"
            " ORDER BY published DESC, id DESC)").fetchone()[0])
        undated = parse_ids(conn.execute(
            "SELECT group_concat(id) FROM (SELECT id FROM papers WHERE published IS NULL"
            " ORDER BY id DESC)").fetchone()[0])
        years: dict[int, int] = {}
        for year, ids in conn.execute(
                "SELECT year, group_concat(id) FROM papers WHERE year IS NOT NULL GROUP BY year"):
            years[int(year)] = from_ids(parse_ids(ids), size)
        by_title = parse_ids(conn.execute(  # the covering index on title_norm makes this cheap
            "SELECT group_concat(id) FROM (SELECT id FROM papers ORDER BY title_norm, id)").fetchone()[0])
        tag_ids = {row[0]: parse_ids(row[1]) for row in conn.execute(
            "SELECT tag_id, group_concat(paper_id) FROM paper_tags GROUP BY tag_id")}
        tags: dict[str, TagSet] = {}
        for row in conn.execute("SELECT id, slug, name, kind, description, rule FROM tags"):
            ids = tag_ids.get(row[0], [])
            tags[row[1]] = TagSet(row[0], row[1], row[2], row[3], row[4] or "", row[5] or "",
                                  from_ids(ids, size), len(ids))
    finally:
        conn.execute("COMMIT")
    all_ids = newest + undated
    date_rank = array("i", bytes(array("i").itemsize * size))
    for position, paper_id in enumerate(all_ids):
        date_rank[paper_id] = position
    oldest = newest[::-1] + undated[::-1]
    return Catalogue(
        signature=signature, size=size, universe=from_ids(all_ids, size), tags=tags,
        tags_folded={slug.lower(): slug for slug in tags}, years=years,
        newest=array("i", all_ids), oldest=array("i", oldest), date_rank=date_rank,
        by_title=array("i", by_title))
