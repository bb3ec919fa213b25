"""Re-reading JSON Lines without re-parsing what the catalogue already holds.

A paper remembers the hash of the line it was last written from (`papers.line_hash`,
kept only for a record taken whole and found by its arXiv id). Merging a record into
the paper it produced changes nothing, so a line whose hash a paper holds is counted
unchanged on the spot: a hash and an index look-up instead of JSON parsing,
validation and a merge. Unless another record of this run may reach that paper
first (same arXiv id or, for a record without one, same title): then the line is
parsed like any other, so the order of writes is what it always was.

The hash is keyed with the ingest code itself: after any change to how records are
read or merged, every line hashes anew and is read in full once.
"""

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, NamedTuple

from app.ingest.parsers import Parsed, _lines, parse, parse_jsonl
from app.ingest.records import PaperIn, RecordError

CHUNK = 2_000        # lines looked up together
SQL_CHUNK = 5_000    # hashes per statement: below SQLite's bound-parameter limit

# line hash -> (arXiv id, normalized title) of the paper holding it
Lookup = Callable[[list[bytes]], dict[bytes, tuple[str | None, str]]]


class Seen:
    """A line whose record the catalogue holds exactly as the line gives it."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "SEEN"  # pickled as a reference to the one instance: a few bytes a line


SEEN = Seen()


class Hashed(NamedTuple):  # a tuple: cheap to pickle between the processes
    """A parsed record with the hash of its line, for the paper to remember."""
    record: PaperIn
    line_hash: bytes


@lru_cache(maxsize=1)
def _hasher():
    code = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):  # the ingest package: readers and merging
        code.update(source.name.encode() + b"\0" + source.read_bytes())
    return hashlib.blake2b(digest_size=16, key=code.digest())


def line_hash(raw: bytes) -> bytes:
    hasher = _hasher().copy()
    hasher.update(raw.rstrip(b"\r\n"))  # the last line may lack its newline
    return hasher.digest()


def catalogue_lookup(conn) -> Lookup:
    def lookup(hashes: list[bytes]) -> dict[bytes, tuple[str | None, str]]:
        found: dict[bytes, tuple[str | None, str]] = {}
        for start in range(0, len(hashes), SQL_CHUNK):
            chunk = hashes[start:start + SQL_CHUNK]
            for digest, arxiv_id, title_norm in conn.execute(
                    f"SELECT line_hash, arxiv_id, title_norm FROM papers WHERE line_hash IN"
                    f" ({','.join('?' * len(chunk))})", chunk):
                found[bytes(digest)] = (arxiv_id, title_norm)
        return found
    return lookup


def parse_records(stream: BinaryIO, fmt: str, lookup: Lookup | None, chunk: int = CHUNK) -> Iterator[Parsed]:
    """`parsers.parse`, with JSON Lines records hashed, and lines the catalogue holds
    (when `lookup` is given) passed on as SEEN without being parsed. Lines are looked up
    `chunk` at a time: no more than the loader's batch, or a slow input (a pipe) would
    hold back batches that could already be committed."""
    if fmt != "jsonl":
        return parse(stream, fmt)
    return _parse_jsonl(stream, lookup, max(1, chunk))


def _parse_jsonl(stream: BinaryIO, lookup: Lookup | None, size: int) -> Iterator[Parsed]:
    touched = _Touched()
    chunk: list[tuple[int, bytes | RecordError]] = []
    numbered = enumerate(_lines(stream), start=1)
    while True:
        try:
            number, raw = next(numbered)
        except StopIteration:
            break
        except Exception:  # the input breaks off (corrupt gzip...): the lines before it still count
            yield from _chunk(chunk, lookup, touched)
            raise
        if isinstance(raw, bytes) and not raw.strip():
            continue  # parse_jsonl skips blank lines too
        chunk.append((number, raw))
        if len(chunk) >= size:
            yield from _chunk(chunk, lookup, touched)
            chunk = []
    yield from _chunk(chunk, lookup, touched)


class _Touched:
    """What the records parsed so far in this run may write to."""

    def __init__(self) -> None:
        self.arxiv_ids: set[str] = set()
        self.titles: set[str] = set()  # of records without an arXiv id: they merge by title

    def add(self, record: PaperIn) -> None:
        if record.arxiv_id:
            self.arxiv_ids.add(record.arxiv_id)
        else:
            self.titles.add(record.title_norm)

    def reaches(self, paper: tuple[str | None, str]) -> bool:
        arxiv_id, title_norm = paper
        return arxiv_id in self.arxiv_ids or title_norm in self.titles


def _chunk(chunk: list[tuple[int, bytes | RecordError]], lookup: Lookup | None,
           touched: _Touched) -> Iterator[Parsed]:
    hashes = [line_hash(raw) if isinstance(raw, bytes) else None for _number, raw in chunk]
    known = lookup([h for h in hashes if h is not None]) if lookup else {}
    out: dict[int, object] = {}
    _parse_into(out, chunk, hashes, [i for i, h in enumerate(hashes) if h not in known], touched)
    # A held line whose paper a record of this run may write first is read in full.
    _parse_into(out, chunk, hashes, [i for i, h in enumerate(hashes)
                                     if i not in out and touched.reaches(known[h])], touched)
    for i, (number, _raw) in enumerate(chunk):
        yield number, out.get(i, SEEN)


def _parse_into(out: dict[int, object], chunk: list[tuple[int, bytes | RecordError]],
                hashes: list[bytes | None], positions: Iterable[int], touched: _Touched) -> None:
    lines: list[bytes] = []
    at: list[int] = []
    for i in positions:
        raw = chunk[i][1]
        if isinstance(raw, RecordError):  # over-long: reported as parse_jsonl does
            out[i] = raw
            continue
        lines.append(raw if raw.endswith(b"\n") else raw + b"\n")
        at.append(i)
    if not lines:
        return
    # One parse_jsonl over just these lines: its k-th line is at[k - 1] (none is blank).
    for k, item in parse_jsonl(io.BytesIO(b"".join(lines))):
        i = at[k - 1]
        if isinstance(item, PaperIn):
            touched.add(item)
            out[i] = Hashed(item, hashes[i])
        else:
            out[i] = item
