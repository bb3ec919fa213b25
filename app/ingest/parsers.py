"""One parser per input format. Each yields (line_number, PaperIn | RecordError).

Parsers read bytes and decode per record. A byte that is not UTF-8 is read as
U+FFFD and the record is kept, with a note, so an odd byte costs neither the
record nor the file. They never touch the database.
"""

import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from app.ingest.records import (ESCAPED_BYTES, REPLACED_UTF8, Deleted, PaperIn, RecordError, as_record_error,
                                record_from_mapping, record_from_text, replace_escaped, with_note)
from app.ingest.xmlformats import OaiPage, XmlError, parse_atom, parse_oai

Parsed = tuple[int, PaperIn | RecordError | Deleted]

# jsonl and json also read the arXiv metadata snapshot and the daily-papers JSON (field names
# are recognised per record); oai is an OAI-PMH response (arXiv, arXivRaw or oai_dc); atom
# an arXiv API feed.
FORMATS = ("seed", "jsonl", "json", "oai", "atom")
# One cap for every format: a JSON Lines line, a seed paragraph, an element of a JSON array, an XML
# record (xmlformats), decompressed or not. Longer ones are skipped without being held in memory.
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_JSON_BYTES = 512 * 1024 * 1024   # a whole JSON document is read into memory
# A compressed input that expands more than this many times is a decompression bomb (a 1 MB .gz
# holding a 1 GiB line): refused once past the first few MiB. Real metadata expands 3 to 10 times.
MAX_EXPANSION = 100
EXPANSION_GRACE = 16 * 1024 * 1024

# In a text page, a title is one short paragraph followed by a longer abstract.
MAX_SEED_TITLE_CHARS = 400
MIN_SEED_ABSTRACT_CHARS = 80


class InputError(Exception):
    """The input as a whole cannot be read (missing file, unknown format...)."""


@dataclass
class Input:
    """An opened input: the decoded byte stream, and how far through the file we are."""
    name: str
    stream: BinaryIO
    size: int | None          # bytes on disk, None for stdin
    _raw: BinaryIO

    def position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    def __enter__(self) -> "Input":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_input(path: str) -> Input:
    """Open a path, or '-' for stdin; gzip is recognised by its magic bytes, not its name."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        size = None
    else:
        target = Path(path)
        if not target.exists():
            raise InputError(f"{path}: no such file")
        if target.is_dir():
            raise InputError(f"{path}: is a directory, not a file")
        try:
            raw = open(target, "rb")  # noqa: SIM115 - closed by Input.close
        except OSError as exc:
            raise InputError(f"{path}: cannot open ({exc.strerror})") from None
        size = target.stat().st_size
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    stream: BinaryIO = buffered
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        compressed = _Counted(buffered)
        stream = io.BufferedReader(_Inflated(path, gzip.GzipFile(fileobj=compressed), compressed))
    return Input(path, readable_ahead(stream), size, buffered)


class _Counted(io.RawIOBase):
    """A stream that counts the bytes read through it (the compressed side of a .gz)."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n


class _Inflated(io.RawIOBase):
    """Decompressed bytes, refused (InputError) past MAX_EXPANSION times the compressed bytes read."""

    def __init__(self, name: str, inflating: gzip.GzipFile, compressed: _Counted):
        self.name, self.inflating, self.compressed, self.count = name, inflating, compressed, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # One inflating step at a time: a truncated file (an interrupted download) raises on the
        # read after its last whole block, so no decompressed byte before the break is lost.
        data = self.inflating.read1(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > EXPANSION_GRACE and self.count > MAX_EXPANSION * max(self.compressed.count, 1):
            raise InputError(f"{self.name}: expands more than {MAX_EXPANSION} times its compressed size "
                             f"({self.compressed.count:,} bytes to over {self.count:,}): refused as a "
                             "decompression bomb; the records before were loaded")
        return n


class _ReadAhead(io.RawIOBase):
    """A stream whose first bytes can be looked at before anything is read from it.

    Recognising the format needs a whole first line (a JSON Lines record can be megabytes long)
    or an XML root, more than one peek of a buffer gives; a pipe or a .gz may give a few bytes at
    a time. The bytes looked at are handed back first when the stream is read.
    """

    def __init__(self, stream: BinaryIO):
        self.stream, self.ahead = stream, b""

    def readable(self) -> bool:
        return True

    def look(self, enough, limit: int) -> bytes:
        """At least the bytes `enough` asks for (or up to `limit`, or all there are), not consumed."""
        while len(self.ahead) < limit and not enough(self.ahead):
            chunk = self.stream.read1(64 * 1024)
            if not chunk:
                break
            self.ahead += chunk
        return self.ahead

    def readinto(self, buffer) -> int:
        if self.ahead:
            n = min(len(buffer), len(self.ahead))
            buffer[:n], self.ahead = self.ahead[:n], self.ahead[n:]
            return n
        # read1: what is buffered, else one read of what has come (readinto1 may wait for more), so a
        # record from a pipe is never held back until the pipe fills a buffer.
        data = self.stream.read1(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def readable_ahead(stream: BinaryIO) -> BinaryIO:
    """`stream`, wrapped so that detect_format can look as far ahead as it needs."""
    return io.BufferedReader(_ReadAhead(stream), 1 << 20)


_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_XML_ROOT = re.compile(r"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")
_SNIFF_XML_CHARS = 4096


def _sniffed_text(head: bytes) -> str:
    """The first bytes as text for recognising the format: UTF-16 by its byte order mark, else UTF-8."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[: 4 * _SNIFF_XML_CHARS].decode("utf-16", "ignore").lstrip("\ufeff")
    return head.decode("utf-8", "replace").lstrip("\ufeff")


def _enough_to_tell(head: bytes) -> bool:
    """Whether these first bytes decide the format: two whole lines of JSON, or a few KiB of XML."""
    text = head.lstrip(b"".join(_BOMS) + b" \t\r\n")
    if not text:
        return False
    if text[:1] == b"{":  # a whole first line that is JSON tells; a broken one, with the next line
        first, newline, rest = text.partition(b"\n")
        return bool(newline) and (b"\n" in rest or _is_json(first))
    if text[:1] == b"<" or head.startswith(_BOMS[1:]):
        return len(text) >= 4 * _SNIFF_XML_CHARS
    return True


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def _jsonl_or_json(text: str) -> str:
    """A text starting with '{': JSON Lines when its first (or, that one broken, second) line is an
    object of its own; a JSON document ({"papers": [...]}, or an object spread over lines) else."""
    lines = [line for line in text.split("\n", 2)[:2] if line.strip()]
    for number, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except ValueError:
            if number == 0 and line.rstrip().endswith(("[", "{", ":", ",")):
                return "json"  # the opening of a document spread over lines: {"papers": [
            continue
        if number == 0 and isinstance(obj, dict) and isinstance(obj.get("papers"), list) and len(lines) == 1:
            return "json"  # one line holding the whole document
        return "jsonl" if isinstance(obj, dict) else "json"
    return "json"


def detect_format(path: str, stream: BinaryIO) -> str:
    """By content where it tells (a .json file may hold JSON Lines: arXiv's snapshot is named so),
    else by extension, else seed page. `stream` from open_input can be looked at as far as needed."""
    name = path.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".jsonlines")):
        return "jsonl"
    if name.endswith((".txt", ".text", ".md")):
        return "seed"
    raw = getattr(stream, "raw", None)
    if isinstance(raw, _ReadAhead):
        head = raw.look(_enough_to_tell, MAX_LINE_BYTES * 2 + 2)
    else:
        head = stream.peek(64 * 1024)[: 64 * 1024]
    text = _sniffed_text(head).lstrip(" \t\r\n")
    if text.startswith("<"):
        root = _XML_ROOT.search(text, 0, _SNIFF_XML_CHARS)
        return "atom" if root and root.group(1) == "feed" else "oai"
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        return _jsonl_or_json(text)
    if name.endswith(".json"):
        return "json"
    if name.endswith(".atom"):
        return "atom"
    if name.endswith(".xml"):
        return "oai"
    return "seed"


def parse(stream: BinaryIO, fmt: str) -> Iterator[Parsed]:
    if fmt == "jsonl":
        return parse_jsonl(stream)
    if fmt == "json":
        return parse_json(stream)
    if fmt == "seed":
        return parse_seed(stream)
    if fmt == "oai":
        return _xml(_oai_file(stream))
    if fmt == "atom":
        return _xml(parse_atom(stream))
    raise InputError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")


def _oai_file(stream: BinaryIO) -> Iterator[Parsed]:
    """An OAI-PMH response read from a file: one that is an error (a bad resumption token...) says so,
    rather than loading nothing without a word. "No records match" is a complete, empty answer."""
    page = OaiPage()
    yield from parse_oai(stream, page)
    errors = [(code, message) for code, message in page.errors if code != "noRecordsMatch"]
    if errors:
        said = "; ".join(f"{code or 'error'}: {message}" if message else code or "error" for code, message in errors)
        raise InputError(f"the OAI-PMH response is an error ({said})")


def _xml(parsed: Iterator[Parsed]) -> Iterator[Parsed]:
    try:
        yield from parsed
    except XmlError as exc:
        raise InputError(str(exc)) from None


def _decode(raw: bytes) -> tuple[str, str | None]:
    """The text, and a note when some bytes were not UTF-8 (each read as U+FFFD)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", "replace"), f"{REPLACED_UTF8} at byte {exc.start}"


def _decode_document(raw: bytes) -> tuple[str, bool]:
    """A whole document's text, and whether some bytes were not UTF-8: those are read as
    lone surrogates (one a byte), which no UTF-8 text holds, so a record can tell its own."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape"), True


def parse_jsonl(stream: BinaryIO) -> Iterator[Parsed]:
    for number, raw in enumerate(_lines(stream), start=1):
        if isinstance(raw, RecordError):
            yield number, raw
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as some editors write
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            text, note = _decode(raw)
            if note is None:
                # Valid JSON orjson refuses: a lone surrogate escape ("\ud83d", half an emoji cut
                # off by a scraper), which the text fields then drop. Anything else is invalid.
                try:
                    obj = json.loads(text)
                except (ValueError, RecursionError):
                    yield number, RecordError(f"invalid JSON: {exc}")
                    continue
                yield number, _record(obj)
                continue
            try:  # a byte that is not UTF-8 costs that byte, not the record
                obj = orjson.loads(text)
            except orjson.JSONDecodeError as exc_after:
                yield number, RecordError(f"invalid JSON: {exc_after} (and {note})")
                continue
            item = _record(obj)  # a skipped record's reason says where the odd byte was too
            yield number, with_note(item, note) if isinstance(item, PaperIn) else RecordError(f"{item} (and {note})")
            continue
        yield number, _record(obj)


def _record(obj) -> PaperIn | RecordError:
    try:
        return record_from_mapping(obj)
    except Exception as exc:  # noqa: BLE001 - record_from_mapping says why; this is the last guard
        return as_record_error(exc)


TOO_LONG = f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB"


def _lines(stream: BinaryIO) -> Iterator[bytes | RecordError]:
    """Lines of a stream, with over-long lines reported (and skipped) instead of buffered."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            line = b""  # let go of the part read before draining the rest, a little at a time
            while True:
                rest = stream.readline(64 * 1024)
                if not rest or rest.endswith(b"\n"):
                    break
            yield RecordError(TOO_LONG)
            continue
        yield line


def parse_json(stream: BinaryIO) -> Iterator[Parsed]:
    """A JSON array of papers, or an object holding one under "papers"."""
    data = stream.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise InputError("JSON document larger than 512 MiB: use JSON Lines instead")
    text, escaped = _decode_document(data)
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    try:
        if text.startswith("{", pos):
            # {"papers": [...]}: locate the array so items keep their line numbers.
            match = re.compile(r'"papers"\s*:\s*\[').search(text, pos)
            if match is None:
                obj, _ = decoder.raw_decode(text, pos)
                raise InputError('expected a JSON array or an object with a "papers" array')
            pos = match.end() - 1
        if not text.startswith("[", pos):
            raise InputError("expected a JSON array of papers")
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    pos += 1
    line = text.count("\n", 0, pos) + 1
    while True:
        start = _skip_ws(text, pos)
        line += text.count("\n", pos, start)
        if start >= len(text):
            yield line, RecordError("unexpected end of file inside the array")
            return
        if text[start] == "]":
            return
        odd = False  # some of its bytes were not UTF-8
        try:
            obj, end = decoder.raw_decode(text, start)
            odd = escaped and ESCAPED_BYTES.search(text, start, end) is not None
            if odd:  # read again with U+FFFD for those bytes (one character for one: same length)
                obj = decoder.raw_decode(replace_escaped(text[start:end]))[0]
            item = _record(obj) if end - start <= MAX_LINE_BYTES else RecordError(
                f"record longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
        except json.JSONDecodeError as exc:
            yield exc.lineno, RecordError(f"invalid JSON: {exc.msg}; the rest of the file is unreadable")
            return
        except (ValueError, RecursionError) as exc:
            # Well-formed JSON that Python will not hold (an integer of over 4,300 digits, arrays
            # nested thousands deep): this element is skipped, its end found by matching brackets.
            end = _value_end(text, start)
            if end is None:
                yield line, RecordError(f"unreadable record ({exc}); the rest of the file is unreadable")
                return
            item = RecordError("unreadable record (" + ("nested too deeply" if isinstance(exc, RecursionError)
                                                         else str(exc).split(":")[0].split(";")[0]) + ")")
        if odd:
            item = with_note(item, REPLACED_UTF8)
        yield line, item
        line += text.count("\n", start, end)
        pos = _skip_ws(text, end)
        line += text.count("\n", end, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] != "]":
            yield line, RecordError("expected ',' or ']' between papers; the rest of the file is unreadable")
            return


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_JSON_SCALAR = re.compile(r'[^,\]\s]+')


def _value_end(text: str, start: int) -> int | None:
    """Where the JSON value starting at `start` ends, by counting brackets outside strings; None if never."""
    if text[start] not in "[{":
        found = _JSON_SCALAR.match(text, start)
        return found.end() if found else None
    depth = 0
    for token in _JSON_TOKEN.finditer(text, start):
        mark = token.group(0)
        if mark in "[{":
            depth += 1
        elif mark in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    return None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n\ufeff":
        pos += 1
    return pos


def parse_seed(stream: BinaryIO) -> Iterator[Parsed]:
    """A text copy of a listing page: title paragraph, abstract paragraph, repeated.

    Page chrome before the first paper (short lines such as "Subscribe" or a
    date) is skipped; after that, an unpaired paragraph is reported. Streamed:
    one paragraph of look-ahead, each at most MAX_LINE_BYTES.
    """
    paragraphs = _paragraphs(stream)
    started = False
    current = next(paragraphs, None)
    while current is not None:
        line, text, replaced = current
        following = next(paragraphs, None)
        if isinstance(text, RecordError):
            yield line, text
            current = following
            continue
        body = following[1] if following is not None else None
        if isinstance(body, str) and _title_then_abstract(text, body, started):
            started = True
            yield line, with_note(_text_record(text, body), REPLACED_UTF8 if replaced or following[2] else None)
            current = next(paragraphs, None)
            continue
        if started:
            kind = "title without an abstract" if len(text) <= MAX_SEED_TITLE_CHARS else "abstract without a title"
            yield line, RecordError(f"{kind}: {text[:60]!r}")
        current = following


def _title_then_abstract(text: str, body: str, started: bool) -> bool:
    """Whether two paragraphs are a paper: a short one, then a longer abstract. Within the list (once
    a paper was read) an abstract may be short ("This paper has been withdrawn."): a sentence after a
    title that is none; and a sentence is never a title to the next paper's title."""
    if len(text) > MAX_SEED_TITLE_CHARS or len(body) <= len(text):
        return False
    if started and text.endswith(".") and not body.endswith(_SENTENCE_ENDS):
        return False
    return len(body) >= MIN_SEED_ABSTRACT_CHARS or (
        started and body.endswith(_SENTENCE_ENDS) and not text.endswith(_SENTENCE_ENDS))


_SENTENCE_ENDS = (".", "!", "?", "。", "．")


def _text_record(title: str, abstract: str) -> PaperIn | RecordError:
    try:
        return record_from_text(title, abstract)
    except Exception as exc:  # noqa: BLE001 - one pair's failure, never the page's
        return as_record_error(exc)


def _paragraphs(stream: BinaryIO) -> Iterator[tuple[int, str | RecordError, bool]]:
    """(first line number, text, whether some bytes were not UTF-8) of each blank-line-separated
    paragraph, none held past the cap."""
    lines: list[str] = []
    size = start = 0
    error: RecordError | None = None
    in_paragraph = replaced = False
    for number, raw in enumerate(_lines(stream), start=1):
        problem = raw if isinstance(raw, RecordError) else None
        text, note = ("?", None) if problem else _decode(raw)
        text = text.strip()
        if not text:
            if in_paragraph:
                yield start, error or " ".join(lines), replaced
            lines, error, size, in_paragraph, replaced = [], None, 0, False, False
            continue
        replaced = replaced or note is not None
        if not in_paragraph:
            start, in_paragraph = number, True
        size += len(text) + 1
        if problem is None and size > MAX_LINE_BYTES:
            problem = RecordError(f"paragraph longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
        error = error or problem
        if error is None:
            lines.append(text)
        else:
            lines = []  # what was held of a refused paragraph is let go
    if in_paragraph:
        yield start, error or " ".join(lines), replaced
